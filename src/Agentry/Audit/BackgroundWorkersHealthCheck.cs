using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Agentry.Audit;

/// <summary>The audit writer must be running and keeping up.</summary>
public sealed class BackgroundWorkersHealthCheck(AuditWriter writer, AuditLog audit) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var data = new Dictionary<string, object> { ["auditQueue"] = audit.Pending };
        if (writer.ExecuteTask is { IsCompleted: true })
            return Task.FromResult(HealthCheckResult.Unhealthy("The audit writer stopped.", writer.ExecuteTask.Exception, data));
        return Task.FromResult(audit.Pending > 10_000
            ? HealthCheckResult.Degraded($"{audit.Pending} audit events are waiting to be written.", data: data)
            : HealthCheckResult.Healthy("Background workers running.", data));
    }
}
