using Agentry.Api;
using Agentry.Audit;
using Agentry.Data;
using Agentry.Security;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Agentry.Mcp;

/// <summary>
/// An MCP server to connect. <c>stdio</c>: <c>command</c>, <c>args</c>, <c>env</c>, <c>workingDirectory</c>;
/// <c>http</c> (Streamable HTTP): <c>url</c>, <c>headers</c>. Values of <c>env</c> and <c>headers</c> are secrets:
/// stored encrypted, never returned; <c>${env:NAME}</c> stores only a reference to Agentry's environment variable NAME.
/// </summary>
public sealed record McpServerRequest(
    string Name, string? Transport, string? Command, List<string>? Args, Dictionary<string, string>? Env, string? WorkingDirectory,
    string? Url, Dictionary<string, string>? Headers)
{
    public McpServerSettings ToSettings() => new()
    {
        Transport = Transport ?? McpTransports.Stdio, Command = Command, Args = Args ?? [], WorkingDirectory = WorkingDirectory, Url = Url,
        Env = new Dictionary<string, string>(Env ?? [], StringComparer.Ordinal),
        Headers = new Dictionary<string, string>(Headers ?? [], StringComparer.OrdinalIgnoreCase),
    };
}

/// <summary>One tool of a server: <c>name</c> is what agents list (<c>mcp:server/tool</c>), <c>functionName</c> what models call.</summary>
public sealed record McpToolDto(string Name, string FunctionName, string Description);

/// <summary>
/// A server, its connection and its tools. <c>status</c>: <c>connecting</c>, <c>connected</c>, <c>reconnecting</c>
/// (it was connected and the connection ended) or <c>failed</c> (connecting fails); while not connected <c>error</c>
/// says why and <c>nextAttemptAt</c> when Agentry tries again. Secrets are shown by name only.
/// </summary>
public sealed record McpServerDto(
    string Name, string Transport, string Source, string Status, string? Error, DateTimeOffset? ConnectedAt, DateTimeOffset? NextAttemptAt, int Reconnects,
    string? ServerVersion, string? Command, IReadOnlyList<string> Args, IReadOnlyList<string> EnvNames, string? WorkingDirectory, string? Url,
    IReadOnlyList<string> HeaderNames, IReadOnlyList<McpToolDto> Tools)
{
    public static McpServerDto From(McpConnection connection)
    {
        var s = connection.Definition.Settings;
        return new McpServerDto(connection.Name, s.Transport, connection.Definition.Source, connection.Status, connection.Error, connection.ConnectedAt,
            connection.Status == McpConnection.Connected ? null : connection.NextAttemptAt, connection.Reconnects, connection.ServerVersion,
            s.Command, s.Args, s.Env.Keys.Order(StringComparer.Ordinal).ToList(), s.WorkingDirectory, s.Url, s.Headers.Keys.Order(StringComparer.Ordinal).ToList(),
            connection.Tools.Select(t => new McpToolDto(t.CanonicalName, t.Name, t.Description)).ToList());
    }
}

public static class McpApi
{
    /// <summary>The admin API for MCP servers, and <c>/mcp</c>, where MCP clients talk to the agents (keys with the chat scope).</summary>
    public static IEndpointRouteBuilder MapMcpApi(this IEndpointRouteBuilder app)
    {
        if (app.ServiceProvider.GetRequiredService<Microsoft.Extensions.Options.IOptions<McpOptions>>().Value.ServeAgents)
            app.MapMcp("/mcp").RequireAuthorization(Policies.Chat).ExcludeFromDescription();

        var group = app.MapGroup("/v1/mcp/servers").WithTags("MCP").RequireAuthorization(Policies.Admin);
        group.MapGet("/", List).WithName("ListMcpServers").WithSummary("Every MCP server (from settings and from the API), its status and its tools.");
        group.MapPost("/", Add).Validated().WithName("AddMcpServer").ProducesProblem(StatusCodes.Status409Conflict)
            .WithSummary("Connect an MCP server (stdio or Streamable HTTP); its tools become mcp:NAME/TOOL. Stored: it survives restarts.");
        group.MapGet("/{name}", Get).WithName("GetMcpServer").ProducesProblem(StatusCodes.Status404NotFound)
            .WithSummary("One MCP server, its status and its tools.");
        group.MapDelete("/{name}", Remove).WithName("RemoveMcpServer").ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict)
            .WithSummary("Disconnect and forget an MCP server added through the API (409 for one in settings).");
        return app;
    }

    static Ok<IReadOnlyList<McpServerDto>> List(McpServers servers) => TypedResults.Ok<IReadOnlyList<McpServerDto>>(servers.All.Select(McpServerDto.From).ToList());

    static Results<Ok<McpServerDto>, ProblemHttpResult> Get(string name, McpServers servers) =>
        servers.Get(name) is { } connection ? TypedResults.Ok(McpServerDto.From(connection)) : NotFound(name);

    static async Task<Results<Created<McpServerDto>, ValidationProblem, ProblemHttpResult>> Add(
        McpServerRequest request, McpServers servers, AgentryDbContext db, AuditLog audit, HttpContext http, CancellationToken ct)
    {
        var settings = request.ToSettings();
        var errors = McpTransports.Validate(request.Name, settings);
        if (errors.Count > 0) return Problems.Validation(errors);
        // Staged first: the audit event is stored in the same transaction as the server.
        audit.Stage(db, AuditActor.From(http), AuditActions.McpServerAdded, $"mcp-server:{request.Name}",
            detail: new { settings.Transport, settings.Command, settings.Url, env = settings.Env.Keys, headers = settings.Headers.Keys });
        var connection = await servers.AddAsync(request.Name, settings, http.GetCaller()?.KeyId, db, ct);
        if (connection is null)
        {
            db.ChangeTracker.Clear();
            return Problems.Conflict(ProblemTypes.McpServerExists, $"An MCP server named '{request.Name}' already exists.");
        }
        return TypedResults.Created($"/v1/mcp/servers/{request.Name}", McpServerDto.From(connection));
    }

    static async Task<Results<NoContent, ProblemHttpResult>> Remove(string name, McpServers servers, AgentryDbContext db, AuditLog audit, HttpContext http, CancellationToken ct)
    {
        // Staged first, as for Add: the event is stored in the same transaction as the removal, or not at all.
        audit.Stage(db, AuditActor.From(http), AuditActions.McpServerRemoved, $"mcp-server:{name}");
        var removed = await servers.RemoveAsync(name, db, ct);
        if (removed is true) return TypedResults.NoContent();
        db.ChangeTracker.Clear();
        return removed is null
            ? NotFound(name)
            : Problems.Conflict(ProblemTypes.McpServerInSettings, $"The MCP server '{name}' is defined in settings (Mcp:Servers:{name}); remove it there.");
    }

    static ProblemHttpResult NotFound(string name) =>
        Problems.NotFound(ProblemTypes.McpServerNotFound, $"No MCP server named '{name}'. See GET /v1/mcp/servers.");
}
