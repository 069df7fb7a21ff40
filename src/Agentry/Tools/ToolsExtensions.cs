using Agentry.Operations;

namespace Agentry.Tools;

public static class ToolsExtensions
{
    public const string HttpGetClient = "tool-http-get";

    public static IHostApplicationBuilder AddTools(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<ToolOptions>().BindSettings(ToolOptions.Section).ValidateOnStart();
        builder.Services.AddSingleton<Microsoft.Extensions.Options.IValidateOptions<ToolOptions>, ToolOptionsValidator>();
        builder.Services.AddSingleton<ToolCatalog>();
        builder.Services.AddScoped<ToolInvoker>();
        builder.Services.AddScoped<ToolStep>();
        builder.Services.AddScoped<ToolLedger>();
        builder.Services.AddScoped<ToolExecution>();
        builder.Services.AddHttpClient(HttpGetClient, c => c.Timeout = TimeSpan.FromSeconds(10))
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler { AllowAutoRedirect = false });
        return builder;
    }

    /// <summary>
    /// At start, once the database is ready: a policy for a tool of an MCP server names a server that exists (in
    /// Mcp:Servers or added through the API). A policy for a server nobody configured would silently guard nothing.
    /// </summary>
    public static async Task CheckToolPoliciesAsync(this IServiceProvider services, CancellationToken cancellationToken = default)
    {
        var policies = services.GetRequiredService<Microsoft.Extensions.Options.IOptions<ToolOptions>>().Value.Policies;
        var configured = services.GetRequiredService<Microsoft.Extensions.Options.IOptions<Mcp.McpOptions>>().Value.Servers;
        if (!policies.Any(p => p.Tool.StartsWith(Mcp.McpToolNames.Prefix, StringComparison.Ordinal))) return;
        await using var scope = services.CreateAsyncScope();
        var stored = await Microsoft.EntityFrameworkCore.EntityFrameworkQueryableExtensions.ToListAsync(
            scope.ServiceProvider.GetRequiredService<Data.AgentryDbContext>().McpServers.Select(s => s.Name), cancellationToken);
        for (var i = 0; i < policies.Count; i++)
            if (Mcp.McpToolNames.TryParse(policies[i].Tool, out var server, out _) && !configured.ContainsKey(server) && !stored.Contains(server))
                throw new StartupException($"Tools:Policies:{i}:Tool '{policies[i].Tool}' names the MCP server '{server}', which is neither in Mcp:Servers nor added " +
                    "through the API (GET /v1/mcp/servers): add the server, or fix the name.");
    }
}
