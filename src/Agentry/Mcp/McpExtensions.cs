using Agentry.Data;
using Agentry.Operations;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.Extensions.Options;
using ModelContextProtocol.AspNetCore;

namespace Agentry.Mcp;

public static class McpExtensions
{
    public static IHostApplicationBuilder AddMcp(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<McpOptions>().BindSettings(McpOptions.Section).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<McpOptions>, McpOptionsValidator>();
        builder.Services.AddSingleton<McpToolPins>();
        builder.Services.AddSingleton<McpNetworkGuard>();
        builder.Services.AddSingleton<McpServers>();
        builder.Services.AddHostedService(services => services.GetRequiredService<McpServers>());
        builder.Services.AddHttpContextAccessor();
        // The SDK logs a failed connection attempt at Error with its stack, on every retry; McpConnection logs each
        // failure once as a warning with the reason and the server's stderr, and GET /v1/mcp/servers shows it.
        builder.Logging.AddFilter("ModelContextProtocol.Client", LogLevel.Critical);
        builder.Services.AddMcpServer(o => o.ServerInfo = new() { Name = "agentry", Version = typeof(McpExtensions).Assembly.GetName().Version?.ToString(3) ?? "1.0.0" })
            // Stateless: any instance behind a load balancer answers any request; nothing to lose on a restart.
            .WithHttpTransport(o => o.SessionMode = HttpServerSessionMode.Stateless)
            .WithListToolsHandler(AgentryMcpServer.ListToolsAsync)
            .WithCallToolHandler(AgentryMcpServer.CallToolAsync);
        return builder;
    }
}
