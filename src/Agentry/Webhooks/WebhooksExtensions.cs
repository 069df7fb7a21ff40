using Agentry.Operations;

namespace Agentry.Webhooks;

public static class WebhooksExtensions
{
    public static IHostApplicationBuilder AddWebhooks(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<WebhookOptions>().BindSettings(WebhookOptions.Section).ValidateOnStart();
        // Only operators configure endpoints (settings, not the API), so the receivers are trusted addresses.
        builder.Services.AddHttpClient(WebhookSender.Client).AddStandardResilienceHandler(o =>
        {
            o.AttemptTimeout.Timeout = TimeSpan.FromSeconds(10);
            o.TotalRequestTimeout.Timeout = TimeSpan.FromSeconds(60);
            o.CircuitBreaker.SamplingDuration = TimeSpan.FromSeconds(30);
        });
        builder.Services.AddSingleton<WebhookSender>();
        return builder;
    }
}
