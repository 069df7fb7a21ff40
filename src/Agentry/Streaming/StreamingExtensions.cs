using Agentry.Operations;

namespace Agentry.Streaming;

public static class StreamingExtensions
{
    /// <summary>Resumable streams: events in Redis Streams with Redis configured, in this process otherwise.</summary>
    public static IHostApplicationBuilder AddStreaming(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<StreamingOptions>().BindSettings(StreamingOptions.Section).ValidateOnStart();
        builder.Services.AddSingleton<InProcessEventLog>();
        builder.Services.AddSingleton<IEventLog>(services => services.GetRequiredService<Data.SharedState>().IsConfigured
            ? ActivatorUtilities.CreateInstance<RedisEventLog>(services)
            : services.GetRequiredService<InProcessEventLog>());
        builder.Services.AddSingleton<DetachedRuns>();
        builder.Services.AddHostedService(services => services.GetRequiredService<DetachedRuns>());
        builder.Services.AddSingleton<ResumableStreams>();
        return builder;
    }
}
