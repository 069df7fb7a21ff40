using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Agentry.Data;

/// <summary>
/// Redis (registered only when configured). Unreachable makes the service Degraded, not unready: each instance then falls back to its own
/// request limits, gates and key cache (log event 6000), which is worse for exactness across instances but keeps serving; token budgets
/// do as Redis:OnFailure says, and taking every instance out of the load balancer would not bring Redis back.
/// </summary>
public sealed class RedisHealthCheck(SharedState shared) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            var latency = await shared.Database!.PingAsync().WaitAsync(TimeSpan.FromSeconds(2), cancellationToken);
            return HealthCheckResult.Healthy($"Reachable ({latency.TotalMilliseconds:0.0} ms).");
        }
        catch (Exception e) when (e is StackExchange.Redis.RedisException or TimeoutException)
        {
            return HealthCheckResult.Degraded((shared.RefusesWhenDown ? "Unreachable: model calls are refused (Redis:OnFailure is refuse); request limits, conversation gates and key revocations use this instance's own state."
                : "Unreachable: limits, token budgets, conversation gates and key revocations use this instance's own state."), e);
        }
    }
}
