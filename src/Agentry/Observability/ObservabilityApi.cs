using System.Globalization;
using System.Text;
using System.Text.Json;
using Agentry.Api;
using Agentry.Audit;
using Agentry.Data;
using Agentry.Operations;
using Agentry.Security;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Agentry.Observability;

/// <summary>Metrics, grouped errors, analytics and resource health: what an operator reads.</summary>
public static class ObservabilityApi
{
    public static WebApplication MapObservabilityApi(this WebApplication app)
    {
        app.MapPrometheusScrapingEndpoint("/metrics").RequireAuthorization(ObservabilityExtensions.MetricsPolicy).ExcludeFromDescription();
        app.MapGet("/v1/admin/errors", ListErrors).WithTags("Observability").WithName("ListErrors").RequireAuthorization(Policies.Admin)
            .WithSummary("Errors grouped by fingerprint, most recent first: count, first and last seen, a sample trace id, the last message.");
        app.MapGet("/v1/admin/analytics", QueryAnalytics).WithTags("Observability").WithName("QueryAnalytics").RequireAuthorization(Policies.Admin)
            .Produces<Page<AnalyticsRow>>(StatusCodes.Status200OK, "application/json", "text/csv")
            .WithSummary("Requests, errors, latency percentiles, tokens and estimated cost grouped by key, agent, model, route or day (format=csv for CSV).");
        app.MapGet("/system/health", SystemHealth).WithTags("Observability").WithName("SystemHealth").RequireAuthorization(Policies.Admin)
            .WithSummary("Current resource figures, active and recent alerts, uptime and version.");
        var telemetry = app.Services.GetRequiredService<AgentryTelemetry>();
        var audit = app.Services.GetRequiredService<AuditLog>();
        telemetry.Meter.CreateObservableGauge("agentry.audit.queue", () => audit.Pending, "{event}", "Audit events waiting to be written (write lag).");
        if (app.Services.GetRequiredService<IOptions<DataOptions>>().Value.EffectiveProvider == DataOptions.Sqlite)
            // Native memory, part of the process's RSS and invisible to the .NET heap's figures: when RSS grows, this says
            // whether it is SQLite's (page caches fill as the database grows, one cache per pooled connection).
            telemetry.Meter.CreateObservableGauge("agentry.sqlite.memory", SQLitePCL.raw.sqlite3_memory_used, "By",
                "Memory SQLite's allocator holds: every connection's page cache, prepared statements and schemas.");
        return app;
    }

    static async Task<Results<Ok<Page<ErrorGroupDto>>, ValidationProblem>> ListErrors(string? kind, int? limit, ErrorTracker tracker, AgentryDbContext db, CancellationToken ct)
    {
        if (!Pagination.TryGetLimit(limit, out var take, out var errors)) return Problems.Validation(errors.ToDictionary());
        if (kind is not null && !ErrorGroup.Kinds.Contains(kind)) return Problems.Validation("kind", $"Use one of: {string.Join(", ", ErrorGroup.Kinds)}.");
        await tracker.FlushAsync(db, ct); // include what happened in the last seconds
        var query = db.ErrorGroups.AsNoTracking();
        if (kind is not null) query = query.Where(g => g.Kind == kind);
        var rows = (await query.ToListAsync(ct)).OrderByDescending(g => g.LastSeen).Take(take).Select(ErrorGroupDto.From).ToList();
        return TypedResults.Ok(new Page<ErrorGroupDto>(rows, null));
    }

    static async Task<Results<Ok<Page<AnalyticsRow>>, FileContentHttpResult, ValidationProblem>> QueryAnalytics(
        string? groupBy, DateOnly? from, DateOnly? to, string? format, Analytics analytics, AgentryDbContext db, HttpContext http, CancellationToken ct)
    {
        groupBy ??= "day";
        if (!Analytics.Dimensions.Contains(groupBy)) return Problems.Validation("groupBy", $"Use one of: {string.Join(", ", Analytics.Dimensions)}.");
        // Include the last seconds, under the lock the periodic flush takes: two flushes of one bucket (the dashboard
        // asks several questions at once, other instances flush too) would both insert it.
        await using (var transaction = await db.Database.BeginTransactionAsync(ct))
        {
            await db.LockAsync(SharedLock.Analytics, ct);
            await analytics.FlushAsync(db, ct);
            await transaction.CommitAsync(ct);
        }
        var first = (from ?? DateOnly.MinValue).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
        var last = (to ?? DateOnly.MaxValue).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
        var buckets = await db.AnalyticsBuckets.AsNoTracking()
            .Where(b => b.Dimension == groupBy && string.Compare(b.Day, first) >= 0 && string.Compare(b.Day, last) <= 0).ToListAsync(ct);
        var rows = buckets.GroupBy(b => groupBy switch { "day" => b.Day, "minute" => $"{b.Day}T{b.Value}", _ => b.Value }).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g =>
        {
            var latency = new long[Analytics.BucketBoundsMs.Length];
            foreach (var b in g)
                if (JsonSerializer.Deserialize<long[]>(b.Latency) is { Length: > 0 } counts)
                    for (var i = 0; i < latency.Length; i++) latency[i] += counts[i];
            return new AnalyticsRow(g.Key, g.Sum(b => b.Requests), g.Sum(b => b.Errors), Analytics.Percentile(latency, 0.5), Analytics.Percentile(latency, 0.95),
                Analytics.Percentile(latency, 0.99), g.Sum(b => b.InputTokens), g.Sum(b => b.OutputTokens), Math.Round(g.Sum(b => b.CostUsd), 6));
        }).ToList();

        var wantsCsv = format == "csv" || http.Request.Headers.Accept.Any(a => a?.Contains("text/csv", StringComparison.OrdinalIgnoreCase) == true);
        if (!wantsCsv) return TypedResults.Ok(new Page<AnalyticsRow>(rows, null));
        var csv = new StringBuilder($"{groupBy},requests,errors,latency_p50_ms,latency_p95_ms,latency_p99_ms,input_tokens,output_tokens,estimated_cost_usd\n");
        foreach (var r in rows)
            csv.Append(CultureInfo.InvariantCulture, $"{Csv(r.Group)},{r.Requests},{r.Errors},{r.LatencyP50Ms},{r.LatencyP95Ms},{r.LatencyP99Ms},{r.InputTokens},{r.OutputTokens},{r.EstimatedCostUsd}\n");
        return TypedResults.File(Encoding.UTF8.GetBytes(csv.ToString()), "text/csv", $"agentry-analytics-{groupBy}.csv");
    }

    static string Csv(string value) => value.IndexOfAny([',', '"', '\n']) < 0 ? value : $"\"{value.Replace("\"", "\"\"", StringComparison.Ordinal)}\"";

    static Ok<object> SystemHealth(SystemMonitor monitor, TimeProvider time)
    {
        var (active, recent) = monitor.Alerts();
        return TypedResults.Ok<object>(new
        {
            version = OperationsExtensions.Version,
            startedAt = monitor.Started,
            uptimeSeconds = Math.Round((time.GetUtcNow() - monitor.Started).TotalSeconds),
            resources = monitor.Latest,
            alerts = new { active, recent },
        });
    }
}
