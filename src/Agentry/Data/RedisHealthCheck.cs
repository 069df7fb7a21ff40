using System.Collections.Concurrent;
using Agentry.Audit;
using Agentry.Data;
using Agentry.Models;
using Agentry.Operations;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace Agentry.Data;

/// <summary>
/// Redis (registered only when configured). Unreachable makes the service Degraded, not unready: each instance then falls back to its own
/// limits, gates and key cache (log event 6000), which is worse for exactness across instances but keeps serving.
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
            return HealthCheckResult.Degraded("Unreachable: limits, conversation gates and key revocations fall back to this instance's own state.", e);
        }
    }
}
