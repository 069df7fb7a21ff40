using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Agentry.Data;

/// <summary>Ready only when the database answers and every migration shipped with this build is applied.</summary>
public sealed class DatabaseHealthCheck(AgentryDbContext db) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            if (!await db.Database.CanConnectAsync(cancellationToken)) return HealthCheckResult.Unhealthy("The database cannot be opened.");
            var pending = await db.PendingMigrationsAsync(cancellationToken);
            return pending.Count == 0
                ? HealthCheckResult.Healthy("Connected; all migrations applied.")
                : HealthCheckResult.Unhealthy($"{pending.Count} migration(s) not applied; run 'agentry migrate'.");
        }
        catch (Exception e) when (e is System.Data.Common.DbException or InvalidOperationException or IOException or UnauthorizedAccessException or TimeoutException)
        {
            return HealthCheckResult.Unhealthy("The database cannot be read.", e);
        }
    }
}
