using System.Text.Json;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Agentry.Operations;

public static class OperationsApi
{
    /// <summary>Liveness says only that the process answers; readiness checks what a request needs (database, migrations).</summary>
    public static WebApplication MapOperationsApi(this WebApplication app)
    {
        app.MapHealthChecks("/health/live", new HealthCheckOptions { Predicate = _ => false, ResponseWriter = WriteHealth })
            .WithTags("Health").ExcludeFromDescription().AllowAnonymous();
        app.MapHealthChecks("/health/ready", new HealthCheckOptions { Predicate = c => c.Tags.Contains("ready"), ResponseWriter = WriteHealth })
            .WithTags("Health").ExcludeFromDescription().AllowAnonymous();
        // Every check with its details, for operators; the anonymous probes above say only what a load balancer needs.
        app.MapHealthChecks("/health", new HealthCheckOptions { ResponseWriter = WriteDetailedHealth })
            .WithTags("Health").ExcludeFromDescription().RequireAuthorization(Security.Policies.Admin);
        return app;
    }

    /// <summary>
    /// What a load balancer needs, and nothing an anonymous caller should learn: each check's name and status, but not
    /// its description (provider addresses and their state, free disk) or the version; those are on the admin /health.
    /// </summary>
    static Task WriteHealth(HttpContext context, HealthReport report)
    {
        context.Response.ContentType = "application/json";
        var body = new
        {
            status = report.Status.ToString(),
            checks = report.Entries.Select(e => new { name = e.Key, status = e.Value.Status.ToString() }),
        };
        return JsonSerializer.SerializeAsync(context.Response.Body, body, JsonSerializerOptions.Web, context.RequestAborted);
    }

    static Task WriteDetailedHealth(HttpContext context, HealthReport report)
    {
        context.Response.ContentType = "application/json";
        var body = new
        {
            status = report.Status.ToString(),
            version = OperationsExtensions.Version,
            durationMs = Math.Round(report.TotalDuration.TotalMilliseconds, 1),
            checks = report.Entries.Select(e => new
            {
                name = e.Key,
                status = e.Value.Status.ToString(),
                description = e.Value.Description,
                durationMs = Math.Round(e.Value.Duration.TotalMilliseconds, 1),
                tags = e.Value.Tags,
                data = e.Value.Data,
            }),
        };
        return JsonSerializer.SerializeAsync(context.Response.Body, body, JsonSerializerOptions.Web, context.RequestAborted);
    }
}
