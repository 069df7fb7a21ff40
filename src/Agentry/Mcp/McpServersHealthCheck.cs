using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Agentry.Mcp;

/// <summary>
/// MCP servers: Degraded (never Unhealthy) while any is not connected or has a change of its tools waiting for an
/// admin, with each server's status; a failing tool server must not take the instance out of rotation, its agents still
/// answer and get a clear tool error.
/// </summary>
public sealed class McpServersHealthCheck(McpServers servers) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var all = servers.All.ToList();
        var data = all.ToDictionary(c => c.Name, c => (object)(c.Error is not null ? $"{c.Status}: {c.Error}"
            : c.HeldChanges.Count > 0 ? $"{c.Status}; tool changes held for approval: {string.Join(", ", c.HeldChanges.Select(h => $"{h.Name} {h.Change}"))}"
            : c.Status));
        var down = all.Where(c => c.Status != McpConnection.Connected).Select(c => c.Name).ToList();
        var held = all.Where(c => c.HeldChanges.Count > 0).Select(c => c.Name).ToList();
        var problems = new List<string>();
        if (down.Count > 0) problems.Add($"Not connected: {string.Join(", ", down)}.");
        if (held.Count > 0) problems.Add($"Tool changes waiting for an admin's approval: {string.Join(", ", held)} (POST /v1/mcp/servers/NAME/approve-tools).");
        return Task.FromResult(all.Count == 0 ? HealthCheckResult.Healthy("No MCP servers configured.")
            : problems.Count == 0 ? HealthCheckResult.Healthy($"{all.Count} MCP server(s) connected.", data)
            : HealthCheckResult.Degraded(string.Join(" ", problems), data: data));
    }
}
