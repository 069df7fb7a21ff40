using Agentry.Agents;
using Agentry.Data;
using Agentry.Security;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Agentry.Tools;

public static class ToolsExtensions
{
    public const string HttpGetClient = "tool-http-get";

    public static IHostApplicationBuilder AddTools(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<ToolOptions>().BindConfiguration(ToolOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<ToolCatalog>();
        builder.Services.AddScoped<ToolInvoker>();
        builder.Services.AddHttpClient(HttpGetClient, c => c.Timeout = TimeSpan.FromSeconds(10))
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler { AllowAutoRedirect = false });
        return builder;
    }

    public static RouteHandlerBuilder MapToolsApi(this IEndpointRouteBuilder app) =>
        app.MapGet("/v1/tools", ListTools).WithTags("Tools").WithName("ListTools").RequireAuthorization(Policies.ReadAgents)
            .WithSummary("Every tool, whether it is enabled, its parameters, and which agents may use it.");

    static async Task<Ok<IReadOnlyList<ToolInfo>>> ListTools(ToolCatalog tools, AgentCatalog agents, AgentryDbContext db, CancellationToken ct) =>
        TypedResults.Ok(tools.List((await agents.ListAsync(db, ct)).Select(a => a.Definition)));
}
