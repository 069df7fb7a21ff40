using Agentry.Operations;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Http.Resilience;
using Microsoft.Extensions.Options;
using Polly.Telemetry;

namespace Agentry.Models;

public static partial class ModelsExtensions
{
    public const string UpstreamHttpClient = "model-upstream";

    public static IHostApplicationBuilder AddModels(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<ModelOptions>().BindSettings(ModelOptions.Section).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<ModelOptions>, ModelOptionsValidator>();
        builder.Services.AddSingleton<ModelCatalog>();
        builder.Services.AddSingleton<ModelInvoker>();

        // Local sentence embeddings behind a cache of their vectors: routing examples, rule phrases and repeated questions
        // are embedded once, and the size limit keeps the cache from growing with every distinct message.
        builder.Services.AddSingleton(services => new LocalEmbeddingGenerator(services.GetRequiredService<IOptions<ModelOptions>>().Value.LocalEmbeddingWeights));
        builder.Services.AddEmbeddingGenerator(services => services.GetRequiredService<LocalEmbeddingGenerator>())
            .Use((inner, services) =>
            {
                var options = services.GetRequiredService<IOptions<ModelOptions>>().Value;
                return new EmbeddingMemoryCache(inner, LocalEmbeddingCache(options.EmbeddingCacheMegabytes * 1024L * 1024, options.LocalEmbeddingWeights));
            });

        builder.Services.AddTransient<UpstreamAttempts.Handler>();
        builder.Services.AddHttpClient(UpstreamHttpClient, http => http.Timeout = Timeout.InfiniteTimeSpan)
            // Model clients live for the whole process, so rotate pooled connections instead of the handler to follow DNS changes.
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5) })
            .AddStandardResilienceHandler().Configure((HttpStandardResilienceOptions o, IServiceProvider services) =>
            {
                var resilience = services.GetRequiredService<IOptions<ModelOptions>>().Value.Resilience;
                var logger = services.GetRequiredService<ILoggerFactory>().CreateLogger("Agentry.Models.Resilience");
                // ModelInvoker enforces the time-to-first-token across retries itself; the handler's total is only a backstop
                // (and must exceed an attempt's).
                var firstToken = resilience.EffectiveTimeToFirstToken;
                o.AttemptTimeout.Timeout = resilience.AttemptTimeout < firstToken ? resilience.AttemptTimeout : firstToken;
                o.TotalRequestTimeout.Timeout = firstToken + TimeSpan.FromSeconds(1);
                o.Retry.MaxRetryAttempts = Math.Max(1, resilience.MaxRetries);
                if (resilience.MaxRetries == 0) o.Retry.ShouldHandle = _ => Polly.PredicateResult.False(); // the handler insists on at least one attempt
                o.Retry.Delay = resilience.RetryBaseDelay;
                o.Retry.UseJitter = true;
                o.Retry.ShouldRetryAfterHeader = true;
                o.RateLimiter.DefaultRateLimiterOptions.PermitLimit = resilience.MaxConcurrentCalls;
                o.RateLimiter.DefaultRateLimiterOptions.QueueLimit = 0;
                o.CircuitBreaker.FailureRatio = resilience.CircuitBreakerFailureRatio;
                o.CircuitBreaker.MinimumThroughput = resilience.CircuitBreakerMinimumThroughput;
                o.CircuitBreaker.BreakDuration = resilience.CircuitBreakerBreakDuration;
                var sampling = resilience.AttemptTimeout * 2 + TimeSpan.FromSeconds(1);
                o.CircuitBreaker.SamplingDuration = sampling > TimeSpan.FromSeconds(30) ? sampling : TimeSpan.FromSeconds(30);
                o.CircuitBreaker.OnOpened = args =>
                {
                    LogCircuitOpened(logger, args.BreakDuration.TotalSeconds, args.Outcome.Result is { } response ? (int)response.StatusCode : null,
                        args.Outcome.Exception?.GetType().Name);
                    return ValueTask.CompletedTask;
                };
                o.CircuitBreaker.OnClosed = _ =>
                {
                    LogCircuitClosed(logger);
                    return ValueTask.CompletedTask;
                };
            })
            // One breaker per provider host: a failing local Ollama must not stop calls to OpenAI.
            .SelectPipelineByAuthority();
        // Counts each attempt for the failure line: added after the resilience handler, so it sits inside it.
        builder.Services.AddHttpClient(UpstreamHttpClient).AddHttpMessageHandler<UpstreamAttempts.Handler>();
        // Innermost: a complete JSON answer to a streamed request becomes the events the SDK reads (Models/UnstreamedAnswers.cs).
        builder.Services.AddTransient<UnstreamedAnswers.Handler>();
        builder.Services.AddHttpClient(UpstreamHttpClient).AddHttpMessageHandler<UnstreamedAnswers.Handler>();

        // Polly logs every attempt and retry at Warning with the exception and its stack. A failed model call is logged
        // once, concisely, by ModelInvoker, and the breaker's openings above; Polly's own events stay at Debug.
        builder.Services.Configure<TelemetryOptions>(o => o.SeverityProvider = _ => ResilienceEventSeverity.Debug);
        return builder;
    }

    static readonly System.Collections.Concurrent.ConcurrentDictionary<(long, LocalEmbeddingWeights), MemoryCache> LocalEmbeddingCaches = new();

    /// <summary>
    /// Embeddings of the local model by text, shared by the hosts of one process like the model itself: the same text
    /// always has the same vector with the same weights, so a second host (a test, a command) reuses what the first computed.
    /// </summary>
    static MemoryCache LocalEmbeddingCache(long sizeLimit, LocalEmbeddingWeights weights) =>
        LocalEmbeddingCaches.GetOrAdd((sizeLimit, weights), key => EmbeddingMemoryCache.Create(key.Item1));

    [LoggerMessage(EventId = 4210, Level = LogLevel.Warning,
        Message = "Circuit to a model provider opened for {BreakSeconds} s after repeated failures (last: status {Status} {Exception}); calls fail fast until it closes")]
    static partial void LogCircuitOpened(ILogger logger, double breakSeconds, int? status, string? exception);

    [LoggerMessage(EventId = 4211, Level = LogLevel.Information, Message = "Circuit to a model provider closed; calls go through again")]
    static partial void LogCircuitClosed(ILogger logger);
}
