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

        var resilience = builder.Configuration.GetSection($"{ModelOptions.Section}:Resilience").Get<ModelResilienceOptions>() ?? new ModelResilienceOptions();
        builder.Services.AddHttpClient(UpstreamHttpClient, http => http.Timeout = Timeout.InfiniteTimeSpan)
            // Model clients live for the whole process, so rotate pooled connections instead of the handler to follow DNS changes.
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5) })
            .AddStandardResilienceHandler(o =>
            {
                o.AttemptTimeout.Timeout = resilience.AttemptTimeout;
                o.TotalRequestTimeout.Timeout = resilience.TotalTimeout;
                o.Retry.MaxRetryAttempts = resilience.MaxRetries;
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
