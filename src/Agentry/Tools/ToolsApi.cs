using Agentry.Agents;
using Agentry.Security;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Agentry.Tools;

public static class ToolsApi
{
    public static RouteHandlerBuilder MapToolsApi(this IEndpointRouteBuilder app) =>
        app.MapGet("/v1/tools", ListTools).WithTags("Tools").WithName("ListTools").RequireAuthorization(Policies.ReadAgents)
            .WithSummary("Every tool, whether it is enabled, its parameters, and which agents may use it.");

    static async Task<Ok<IReadOnlyList<ToolInfo>>> ListTools(ToolCatalog tools, AgentCatalog agents, CancellationToken ct) =>
        TypedResults.Ok(tools.List((await agents.ListAsync(ct)).Select(a => a.Definition)));
}
