using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace Agentry.Operations;

public sealed class DrainOptions
{
    public const string Section = "Shutdown";

    /// <summary>
    /// On SIGTERM, how long the service keeps listening while <c>/health/ready</c> answers 503 and new turns are refused,
    /// so a load balancer stops sending traffic before connections are refused. Running turns carry on meanwhile (up to
    /// <c>Conversations:ShutdownGrace</c>); then the server stops accepting connections and drains.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:00:20")]
    public TimeSpan DrainDelay { get; set; } = TimeSpan.FromSeconds(5);
}

/// <summary>The first step of a graceful stop: readiness off, new turns refused, then a pause for the load balancer.</summary>
public sealed partial class ServiceDrain(IOptions<DrainOptions> options, ILogger<ServiceDrain> logger) : IHostedLifecycleService
{
    volatile bool _draining;

    public bool IsDraining => _draining;

    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        _draining = true;
        var delay = options.Value.DrainDelay;
        LogDraining((long)delay.TotalMilliseconds);
        if (delay <= TimeSpan.Zero) return;
        try
        {
            await Task.Delay(delay, cancellationToken);
        }
        catch (OperationCanceledException)
        {
            // The host's shutdown timeout ran out: go on stopping.
        }
    }

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(EventId = 8000, Level = LogLevel.Information, Message = "Shutting down: readiness is 503 and new turns are refused; the server stops listening in {DelayMs} ms")]
    partial void LogDraining(long delayMs);
}

/// <summary>Not ready while draining, so the load balancer takes this instance out first.</summary>
public sealed class DrainHealthCheck(ServiceDrain drain) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(drain.IsDraining ? HealthCheckResult.Unhealthy("Shutting down.") : HealthCheckResult.Healthy("Serving."));
}
