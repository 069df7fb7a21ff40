using Agentry.Api;
using Agentry.Audit;
using Agentry.Data;
using Agentry.Security;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

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

/// <summary>Approving a held change of a server's tools; <c>toolsHash</c> (from the server's <c>pendingToolsHash</c>) makes sure the change approved is the one reviewed.</summary>
public sealed record ApproveToolsRequest(string? ToolsHash) : IValidatable
{
    public void Validate(ValidationErrors errors) => errors.MaxLength("toolsHash", ToolsHash, 64);
}

/// <summary>
/// A server, its connection and its tools. <c>status</c>: <c>connecting</c>, <c>connected</c>, <c>reconnecting</c>
/// (it was connected and the connection ended) or <c>failed</c> (connecting fails); while not connected <c>error</c>
/// says why and <c>nextAttemptAt</c> when Agentry tries again. Secrets are shown by name only, and secret-looking parts
/// of the URL and arguments as <c>***</c>. <c>tools</c> are those agents may use; <c>heldToolChanges</c> lists changes
/// of the server's tool list waiting for an admin (<c>POST /v1/mcp/servers/{name}/approve-tools</c>).
/// </summary>
public sealed record McpServerDto(
    string Name, string Transport, string Source, string Status, string? Error, DateTimeOffset? ConnectedAt, DateTimeOffset? NextAttemptAt, int Reconnects,
    string? ServerVersion, string? Command, IReadOnlyList<string> Args, IReadOnlyList<string> EnvNames, string? WorkingDirectory, string? Url,
    IReadOnlyList<string> HeaderNames, IReadOnlyList<McpToolDto> Tools, IReadOnlyList<McpToolChange> HeldToolChanges, string? PendingToolsHash)
{
    public static McpServerDto From(McpConnection connection)
    {
        var s = connection.Definition.Settings;
        return new McpServerDto(connection.Name, s.Transport, connection.Definition.Source, connection.Status, connection.Error, connection.ConnectedAt,
            connection.Status == McpConnection.Connected ? null : connection.NextAttemptAt, connection.Reconnects, connection.ServerVersion,
            s.Command, McpRedaction.Args(s.Args), s.Env.Keys.Order(StringComparer.Ordinal).ToList(), s.WorkingDirectory, McpRedaction.Url(s.Url),
            s.Headers.Keys.Order(StringComparer.Ordinal).ToList(),
            connection.Tools.Select(t => new McpToolDto(t.CanonicalName, t.Name, t.ServerDescription)).ToList(), connection.HeldChanges, connection.PendingToolsHash);
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
        group.MapGet("/", List).WithName("ListMcpServers").WithSummary("MCP servers (from settings and from the API) by name, a page at a time, with status and tools.");
        group.MapPost("/", Add).Validated().WithName("AddMcpServer").ProducesProblem(StatusCodes.Status409Conflict)
            .WithSummary("Connect an MCP server (Streamable HTTP; stdio when Mcp:AllowStdioFromApi); its tools become mcp:NAME/TOOL and are pinned. Stored: it survives restarts.");
        group.MapPost("/{name}/approve-tools", ApproveTools).Validated().WithName("ApproveMcpTools")
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict)
            .WithSummary("Accept the held change of a server's tool list (see heldToolChanges): its tools are offered again as they are now.");
        group.MapGet("/{name}", Get).WithName("GetMcpServer").ProducesProblem(StatusCodes.Status404NotFound)
            .WithSummary("One MCP server, its status and its tools.");
        group.MapDelete("/{name}", Remove).WithName("RemoveMcpServer").ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict)
            .WithSummary("Disconnect and forget an MCP server added through the API (409 for one in settings).");
        return app;
    }

    static Results<Ok<Page<McpServerDto>>, ValidationProblem> List(int? limit, string? cursor, McpServers servers)
    {
        if (!Pagination.TryGetLimit(limit, out var take, out var errors)) return Problems.Validation(errors.ToDictionary());
        var rows = servers.All.Where(c => cursor is null || string.CompareOrdinal(c.Name, cursor) > 0).Take(take + 1).ToList();
        return TypedResults.Ok(Pagination.ToPage(rows, take, McpServerDto.From, c => c.Name));
    }

    static Results<Ok<McpServerDto>, ProblemHttpResult> Get(string name, McpServers servers) =>
        servers.Get(name) is { } connection ? TypedResults.Ok(McpServerDto.From(connection)) : NotFound(name);

    static async Task<Results<Created<McpServerDto>, ValidationProblem, ProblemHttpResult>> Add(
        McpServerRequest request, McpServers servers, McpNetworkGuard guard, IOptions<McpOptions> options, AgentryDbContext db, AuditLog audit, HttpContext http,
        CancellationToken ct)
    {
        var settings = request.ToSettings();
        var errors = McpTransports.Validate(request.Name, settings);
        if (errors.Count > 0) return Problems.Validation(errors);
        if (await RefusalAsync(settings, guard, options.Value, ct) is { } refusal)
            return TypedResults.Problem(statusCode: StatusCodes.Status403Forbidden, type: ProblemTypes.McpServerRefused, title: "MCP server not allowed", detail: refusal);
        // Staged first: the audit event is stored in the same transaction as the server.
        audit.Stage(db, AuditActor.From(http), AuditActions.McpServerAdded, $"mcp-server:{request.Name}",
            detail: new
            {
                settings.Transport, settings.Command, args = McpRedaction.Args(settings.Args), url = McpRedaction.Url(settings.Url), env = settings.Env.Keys,
                headers = settings.Headers.Keys
            });
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

    /// <summary>
    /// What an admin key may not make Agentry do through a server definition: run a program on its host (stdio, unless
    /// Mcp:AllowStdioFromApi), reach its private network (an http server at a non-public address, unless allow-listed),
    /// or send one of its environment variables anywhere (<c>${env:NAME}</c> not in Mcp:AllowedEnvReferences).
    /// </summary>
    static async Task<string?> RefusalAsync(McpServerSettings settings, McpNetworkGuard guard, McpOptions options, CancellationToken ct)
    {
        if (settings.Transport == McpTransports.Stdio && !options.AllowStdioFromApi)
            return "A stdio server is a command Agentry runs on its own host, so it is defined in settings (Mcp:Servers), not through the API; " +
                "an operator may allow it with Mcp:AllowStdioFromApi=true.";
        var references = settings.Env.Values.Concat(settings.Headers.Values).Select(McpConnection.EnvReference).OfType<string>()
            .Where(name => !options.AllowedEnvReferences.Contains(name, StringComparer.Ordinal)).Distinct().ToList();
        if (references.Count > 0)
            return $"${{env:{references[0]}}} would send Agentry's own environment variable {references[0]} to this server; only names listed in " +
                "Mcp:AllowedEnvReferences may be referenced. Give the value itself instead (it is stored encrypted).";
        return settings.Transport == McpTransports.Http && Uri.TryCreate(settings.Url, UriKind.Absolute, out var url) ? await guard.ProblemWithAsync(url, ct) : null;
    }

    static async Task<Results<Ok<McpServerDto>, ProblemHttpResult>> ApproveTools(
        string name, ApproveToolsRequest request, McpServers servers, AgentryDbContext db, HttpContext http, CancellationToken ct)
    {
        if (servers.Get(name) is null) return NotFound(name);
        if (!await servers.ApproveToolsAsync(name, request.ToolsHash, AuditActor.From(http), db, ct))
            return Problems.Conflict(ProblemTypes.McpToolsNotHeld, request.ToolsHash is null
                ? $"No change of the MCP server '{name}''s tools is waiting for approval."
                : $"The change of '{name}''s tools waiting for approval is not the one with hash {request.ToolsHash} (it changed again, or was approved); read GET /v1/mcp/servers/{name} again.");
        return TypedResults.Ok(McpServerDto.From(servers.Get(name)!));
    }

    static ProblemHttpResult NotFound(string name) =>
        Problems.NotFound(ProblemTypes.McpServerNotFound, $"No MCP server named '{name}'. See GET /v1/mcp/servers.");
}
