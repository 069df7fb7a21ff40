using Microsoft.Extensions.Http.Resilience;
using Microsoft.Extensions.Options;

namespace Agentry.Models;

public static class ModelsExtensions
{
    public const string UpstreamHttpClient = "model-upstream";

    public static IHostApplicationBuilder AddModels(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<ModelOptions>().BindConfiguration(ModelOptions.Section).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<ModelOptions>, ModelOptionsValidator>();
        builder.Services.AddSingleton<ModelCatalog>();

        builder.Services.AddHttpClient(UpstreamHttpClient, http => http.Timeout = Timeout.InfiniteTimeSpan)
            // Model clients live for the whole process, so rotate pooled connections instead of the handler to follow DNS changes.
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5) })
            .AddStandardResilienceHandler().Configure((HttpStandardResilienceOptions o, IServiceProvider services) =>
            {
                var resilience = services.GetRequiredService<IOptions<ModelOptions>>().Value.Resilience;
                o.AttemptTimeout.Timeout = resilience.AttemptTimeout;
                o.TotalRequestTimeout.Timeout = resilience.TotalTimeout;
                o.Retry.MaxRetryAttempts = Math.Max(1, resilience.MaxRetries);
                if (resilience.MaxRetries == 0) o.Retry.ShouldHandle = _ => Polly.PredicateResult.False(); // the handler insists on at least one attempt
                o.Retry.Delay = resilience.RetryBaseDelay;
                o.Retry.UseJitter = true;
                o.Retry.ShouldRetryAfterHeader = true;
                o.CircuitBreaker.FailureRatio = resilience.CircuitBreakerFailureRatio;
                o.CircuitBreaker.MinimumThroughput = resilience.CircuitBreakerMinimumThroughput;
                o.CircuitBreaker.BreakDuration = resilience.CircuitBreakerBreakDuration;
                var sampling = resilience.AttemptTimeout * 2 + TimeSpan.FromSeconds(1);
                o.CircuitBreaker.SamplingDuration = sampling > TimeSpan.FromSeconds(30) ? sampling : TimeSpan.FromSeconds(30);
            })
            // One breaker per provider host: a failing local Ollama must not stop calls to OpenAI.
            .SelectPipelineByAuthority();
        return builder;
    }
}
