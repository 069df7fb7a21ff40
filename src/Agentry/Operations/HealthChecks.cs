using System.Collections.Concurrent;
using Agentry.Audit;
using Agentry.Data;
using Agentry.Models;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace Agentry.Operations;

public sealed class HealthOptions
{
    public const string Section = "Health";

    /// <summary>Readiness fails when the data folder's disk has less free space than this.</summary>
    public long MinFreeDiskMegabytes { get; set; } = 500;

    /// <summary>How long a model provider probe result is reused: probes must not cost a completion per health check.</summary>
    public TimeSpan ModelProbeInterval { get; set; } = TimeSpan.FromSeconds(30);
}

/// <summary>
/// Asks each configured OpenAI-compatible endpoint for its model list (cheap, no tokens), at most once per interval.
/// A provider that does not answer makes the service Degraded, not unready: every instance shares the provider, so
/// taking instances out of the load balancer would not help, while the other endpoints and the offline model still work.
/// </summary>
public sealed class ModelProviderHealthCheck(IOptions<ModelOptions> models, IOptions<HealthOptions> options, IHttpClientFactory http, TimeProvider time) : IHealthCheck
{
    readonly ConcurrentDictionary<string, (DateTimeOffset At, string? Problem)> Probes = new();

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var data = new Dictionary<string, object>();
        var problems = new List<string>();
        foreach (var (name, endpoint) in models.Value.Endpoints.Where(e => e.Value.IsConfigured))
        {
            var url = (endpoint.Provider == "azure-openai" ? endpoint.BaseUrl!.TrimEnd('/') + "/openai/v1" : (endpoint.BaseUrl ?? "https://api.openai.com/v1").TrimEnd('/')) + "/models";
            var cacheKey = $"{name}|{url}";
            if (!Probes.TryGetValue(cacheKey, out var probe) || time.GetUtcNow() - probe.At > options.Value.ModelProbeInterval)
            {
                probe = (time.GetUtcNow(), await ProbeAsync(url, endpoint, cancellationToken));
                Probes[cacheKey] = probe;
            }
            data[name] = probe.Problem ?? "reachable";
            if (probe.Problem is not null) problems.Add($"{name}: {probe.Problem}");
        }
        data["default"] = models.Value.EffectiveDefaultModel;
        return problems.Count == 0
            ? HealthCheckResult.Healthy(data.Count == 1 ? "Offline model only." : "Model endpoints reachable.", data)
            : HealthCheckResult.Degraded(string.Join("; ", problems), data: data);
    }

    async Task<string?> ProbeAsync(string url, ModelEndpointOptions endpoint, CancellationToken cancellationToken)
    {
        try
        {
            using var client = http.CreateClient(OperationsExtensions.ProbeClient);
            using var request = new HttpRequestMessage(HttpMethod.Get, url);
            if (!string.IsNullOrWhiteSpace(endpoint.ApiKey))
            {
                request.Headers.Authorization = new("Bearer", endpoint.ApiKey);
                request.Headers.Add("api-key", endpoint.ApiKey);
            }
            using var response = await client.SendAsync(request, cancellationToken);
            return (int)response.StatusCode is >= 500 or 401 or 403 ? $"answered {(int)response.StatusCode}" : null;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return e is TaskCanceledException ? "timed out" : "unreachable";
        }
    }
}

/// <summary>Unready when the data folder's disk is nearly full: SQLite would start failing writes.</summary>
public sealed class DiskSpaceHealthCheck(IOptions<DataOptions> data, IOptions<HealthOptions> options, IHostEnvironment environment) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var folder = data.Value.FullDirectory(environment.ContentRootPath);
        var free = FreeBytes(folder);
        var minimum = options.Value.MinFreeDiskMegabytes * 1024 * 1024;
        var details = new Dictionary<string, object> { ["folder"] = folder, ["freeMegabytes"] = free / 1024 / 1024, ["minimumMegabytes"] = options.Value.MinFreeDiskMegabytes };
        return Task.FromResult(free >= minimum
            ? HealthCheckResult.Healthy($"{free / 1024 / 1024} MB free.", details)
            : HealthCheckResult.Unhealthy($"Only {free / 1024 / 1024} MB free on the data folder's disk (minimum {options.Value.MinFreeDiskMegabytes} MB).", data: details));
    }

    public static long FreeBytes(string folder)
    {
        var existing = folder;
        while (!Directory.Exists(existing) && Path.GetDirectoryName(existing) is { } parent) existing = parent;
        return new DriveInfo(existing).AvailableFreeSpace;
    }
}

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

/// <summary>Ready only when the database answers and every migration shipped with this build is applied.</summary>
public sealed class DatabaseHealthCheck(AgentryDbContext db) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            if (!await db.Database.CanConnectAsync(cancellationToken)) return HealthCheckResult.Unhealthy("The database cannot be opened.");
            var pending = (await db.Database.GetPendingMigrationsAsync(cancellationToken)).ToList();
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

/// <summary>
/// Redis, when configured. Unreachable makes the service Degraded, not unready: each instance then falls back to its own
/// limits, gates and key cache (log event 6000), which is worse for exactness across instances but keeps serving.
/// </summary>
public sealed class RedisHealthCheck(SharedState shared) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (!shared.IsConfigured) return HealthCheckResult.Healthy("Not configured: this instance keeps limits, gates and key revocations in process.");
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

/// <summary>
/// MCP servers: Degraded (never Unhealthy) while any is not connected or has a change of its tools waiting for an
/// admin, with each server's status; a failing tool server must not take the instance out of rotation, its agents still
/// answer and get a clear tool error.
/// </summary>
public sealed class McpServersHealthCheck(Mcp.McpServers servers) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var all = servers.All.ToList();
        var data = all.ToDictionary(c => c.Name, c => (object)(c.Error is not null ? $"{c.Status}: {c.Error}"
            : c.HeldChanges.Count > 0 ? $"{c.Status}; tool changes held for approval: {string.Join(", ", c.HeldChanges.Select(h => $"{h.Name} {h.Change}"))}"
            : c.Status));
        var down = all.Where(c => c.Status != Mcp.McpConnection.Connected).Select(c => c.Name).ToList();
        var held = all.Where(c => c.HeldChanges.Count > 0).Select(c => c.Name).ToList();
        var problems = new List<string>();
        if (down.Count > 0) problems.Add($"Not connected: {string.Join(", ", down)}.");
        if (held.Count > 0) problems.Add($"Tool changes waiting for an admin's approval: {string.Join(", ", held)} (POST /v1/mcp/servers/NAME/approve-tools).");
        return Task.FromResult(all.Count == 0 ? HealthCheckResult.Healthy("No MCP servers configured.")
            : problems.Count == 0 ? HealthCheckResult.Healthy($"{all.Count} MCP server(s) connected.", data)
            : HealthCheckResult.Degraded(string.Join(" ", problems), data: data));
    }
}
