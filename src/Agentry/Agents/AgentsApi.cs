using Agentry.Api;
using Agentry.Audit;
using Agentry.Data;
using Agentry.Models;
using Agentry.Rules;
using Agentry.Security;
using Agentry.Tools;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace Agentry.Agents;

/// <summary>An agent in API responses: its definition plus where it comes from.</summary>
public sealed record AgentDto(
    string Id, string Name, string Description, string? Model, string Instructions, Personality Personality,
    IReadOnlyList<AgentRule> Rules, IReadOnlyList<string> Tools, IReadOnlyList<string> Handoffs, double? Temperature, int? MaxOutputTokens,
    RoutingOptions Routing, WorkflowOptions? Workflow, AgentKnowledge? Knowledge, string Memory, string Source, string? File, DateTimeOffset? CreatedAt, DateTimeOffset? UpdatedAt)
{
    /// <summary>The version in force (the hash of its content; GET /v1/agents/{id}/versions lists them).</summary>
    public string? Version { get; init; }

    public static AgentDto From(AgentEntry entry)
    {
        var d = entry.Definition;
        return new AgentDto(d.Id, d.Name, d.Description, d.Model, d.Instructions, d.Personality, d.Rules, d.Tools, d.Handoffs,
            d.Temperature, d.MaxOutputTokens, d.Routing, d.Workflow, d.Knowledge, d.Memory, entry.Source, entry.File, entry.CreatedAt, entry.UpdatedAt)
        { Version = d.Version };
    }
}

public sealed record AgentReloadResult(int Loaded, IReadOnlyList<string> Agents);

public static class AgentsApi
{
    public static RouteGroupBuilder MapAgentsApi(this IEndpointRouteBuilder app)
    {
        app.MapPost("/v1/agents:reload", Reload).WithTags("Agents").WithName("ReloadAgents").RequireAuthorization(Policies.AgentsWrite)
            .ProducesProblem(StatusCodes.Status422UnprocessableEntity)
            .WithSummary("Re-read the agents folder; on errors the previous definitions stay in force (422 lists them).");

        app.MapPost("/v1/agents:check", Check).Validated().WithTags("Agents").WithName("CheckAgentYaml").RequireAuthorization(Policies.ReadAgents)
            .WithSummary("Read an agent written as YAML, as an agent file is read: the definition, or each error at its line (nothing is saved).");

        var group = app.MapGroup("/v1/agents").WithTags("Agents");
        group.MapGet("/", List).WithName("ListAgents").RequireAuthorization(Policies.ReadAgents)
            .WithSummary("Every agent (from files and from the API), ordered by id, a page at a time.");
        group.MapPost("/", Create).Validated().WithName("CreateAgent").RequireAuthorization(Policies.AgentsWrite)
            .ProducesProblem(StatusCodes.Status409Conflict).WithSummary("Create an agent (409 when the id exists or a file defines it).");
        group.MapGet("/{agentId}", Get).WithName("GetAgent").RequireAuthorization(Policies.ReadAgents)
            .ProducesProblem(StatusCodes.Status404NotFound).WithSummary("One agent's definition and where it comes from.");
        group.MapGet("/{agentId}/yaml", GetYaml).WithName("GetAgentYaml").RequireAuthorization(Policies.ReadAgents)
            .ProducesProblem(StatusCodes.Status404NotFound).WithSummary("One agent's definition as YAML, in the shape of an agent file.");
        group.MapPut("/{agentId}", Put).Validated().WithName("PutAgent").RequireAuthorization(Policies.AgentsWrite)
            .ProducesProblem(StatusCodes.Status409Conflict).WithSummary("Create or replace an API-defined agent; the id comes from the path.");
        group.MapDelete("/{agentId}", Delete).WithName("DeleteAgent").RequireAuthorization(Policies.AgentsWrite)
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict)
            .WithSummary("Delete an API-defined agent (409 for one a file defines).");
        group.MapAgentVersions();
        return group;
    }

    static async Task<Results<Ok<Page<AgentDto>>, ValidationProblem>> List(int? limit, string? cursor, AgentCatalog catalog, CancellationToken ct)
    {
        if (!Pagination.TryGetLimit(limit, out var take, out var errors)) return Problems.Validation(errors.ToDictionary());
        var all = await catalog.ListAsync(ct);
        var rows = all.Where(a => cursor is null || string.CompareOrdinal(a.Definition.Id, cursor) > 0).Take(take + 1).ToList();
        return TypedResults.Ok(Pagination.ToPage(rows, take, AgentDto.From, a => a.Definition.Id));
    }

    static Ok<AgentYamlCheck> Check(AgentYamlRequest request, ModelCatalog models, ToolCatalog tools) =>
        TypedResults.Ok(AgentYaml.Check(request.Yaml!, agent => agent.ReferenceErrors(models, tools)));

    static async Task<Results<Ok<AgentYamlText>, ProblemHttpResult>> GetYaml(string agentId, AgentCatalog catalog, CancellationToken ct) =>
        await catalog.FindAsync(agentId, ct) is { } agent
            ? TypedResults.Ok(new AgentYamlText(agentId, AgentFiles.Write(agent.Definition), agent.Source))
            : Problems.AgentNotFound(agentId).ToResult();

    static async Task<Results<Ok<AgentDto>, ProblemHttpResult>> Get(string agentId, AgentCatalog catalog, CancellationToken ct) =>
        await catalog.FindAsync(agentId, ct) is { } agent
            ? TypedResults.Ok(AgentDto.From(agent))
            : Problems.AgentNotFound(agentId).ToResult();

    static async Task<Results<Created<AgentDto>, ValidationProblem, ProblemHttpResult>> Create(
        AgentDefinition agent, AgentCatalog catalog, AgentVersions versions, ModelCatalog models, ToolCatalog tools, AgentryDbContext db, TimeProvider time,
        AuditLog audit, HttpContext http, CancellationToken ct)
    {
        if (agent.Id.Length == 0) return Problems.Validation("id", "Required: 1-64 characters of a-z, 0-9 and '-'.");
        if (CheckReferences(agent, models, tools) is { } invalid) return invalid;
        if (CheckGrants(agent, [], tools, http) is { } refused) return refused;
        if (catalog.IsFileAgent(agent.Id, out var file))
            return Problems.Conflict(ProblemTypes.AgentDefinedInFile, $"Agent '{agent.Id}' is defined in {Path.GetFileName(file.Path)}; choose another id.");
        if (await db.Agents.AnyAsync(a => a.Id == agent.Id, ct))
            return Problems.Conflict(ProblemTypes.AgentExists, $"Agent '{agent.Id}' already exists; use PUT /v1/agents/{agent.Id} to change it.");

        var now = time.GetUtcNow();
        var stored = new StoredAgent { Id = agent.Id, Definition = AgentCatalog.Serialize(agent), CreatedAt = now, UpdatedAt = now };
        db.Agents.Add(stored);
        var version = await versions.StageAsync(agent.Id, stored.Definition, AgentVersions.FromApi, http.GetCaller()?.KeyId, ct);
        audit.Stage(db, AuditActor.From(http), AuditActions.AgentCreated, $"agent:{agent.Id}", detail: new { agent.Name, agent.Model, version = version?.Version });
        try
        {
            await db.SaveChangesAsync(ct);
        }
        catch (DbUpdateException)
        {
            // Another request created the same id between our check and our insert.
            return Problems.Conflict(ProblemTypes.AgentExists, $"Agent '{agent.Id}' already exists.");
        }
        return TypedResults.Created($"/v1/agents/{agent.Id}", AgentDto.From(new AgentEntry(agent with { Version = version?.Hash }, AgentEntry.FromApi, null, now, now)));
    }

    /// <summary>Creates or replaces an API-defined agent (201 when created, 200 when replaced).</summary>
    static async Task<Results<Ok<AgentDto>, Created<AgentDto>, ValidationProblem, ProblemHttpResult>> Put(
        string agentId, AgentDefinition agent, AgentCatalog catalog, AgentVersions versions, ModelCatalog models, ToolCatalog tools, AgentryDbContext db,
        TimeProvider time, AuditLog audit, HttpContext http, CancellationToken ct)
    {
        // The path names the agent; the body may repeat the id, and then it must agree.
        if (agent.Id.Length == 0) agent = agent with { Id = agentId };
        if (agent.Id != agentId) return Problems.Validation("id", $"Must match the id in the path ('{agentId}'), or be left out.");
        var pathErrors = new ValidationErrors();
        pathErrors.Slug("agentId", agentId);
        if (!pathErrors.IsEmpty) return Problems.Validation(pathErrors.ToDictionary());
        if (CheckReferences(agent, models, tools) is { } invalid) return invalid;
        if (catalog.IsFileAgent(agentId, out var file))
            return Problems.Conflict(ProblemTypes.AgentDefinedInFile, $"Agent '{agentId}' is defined in {Path.GetFileName(file.Path)}; edit the file and reload instead.");

        var now = time.GetUtcNow();
        var stored = await db.Agents.FirstOrDefaultAsync(a => a.Id == agentId, ct);
        var granted = stored is null ? [] : AgentCatalog.Deserialize(stored.Definition).Tools;
        if (CheckGrants(agent, granted, tools, http) is { } refused) return refused;
        var created = stored is null;
        if (stored is null) db.Agents.Add(stored = new StoredAgent { Id = agentId, Definition = "", CreatedAt = now });
        stored.Definition = AgentCatalog.Serialize(agent);
        stored.UpdatedAt = now;
        // The change and its version commit together; a PUT that changes nothing records no version.
        var version = await versions.StageAsync(agentId, stored.Definition, AgentVersions.FromApi, http.GetCaller()?.KeyId, ct);
        audit.Stage(db, AuditActor.From(http), created ? AuditActions.AgentCreated : AuditActions.AgentUpdated, $"agent:{agentId}",
            detail: new { agent.Name, agent.Model, version = version?.Version });
        try
        {
            await db.SaveChangesAsync(ct);
        }
        catch (DbUpdateException)
        {
            return Problems.Conflict(ProblemTypes.Conflict, $"Agent '{agentId}' was changed by another request at the same time; read it and try again.");
        }

        var dto = AgentDto.From(new AgentEntry(agent with { Version = AgentVersions.Hash(stored.Definition) }, AgentEntry.FromApi, null, stored.CreatedAt, now));
        return created ? TypedResults.Created($"/v1/agents/{agentId}", dto) : TypedResults.Ok(dto);
    }

    static async Task<Results<NoContent, ProblemHttpResult>> Delete(
        string agentId, AgentCatalog catalog, AgentryDbContext db, AuditLog audit, HttpContext http, CancellationToken ct)
    {
        if (catalog.IsFileAgent(agentId, out var file))
            return Problems.Conflict(ProblemTypes.AgentDefinedInFile, $"Agent '{agentId}' is defined in {Path.GetFileName(file.Path)}; delete the file and reload instead.");
        var stored = await db.Agents.FirstOrDefaultAsync(a => a.Id == agentId, ct);
        if (stored is null) return Problems.AgentNotFound(agentId).ToResult();
        db.Agents.Remove(stored);
        audit.Stage(db, AuditActor.From(http), AuditActions.AgentDeleted, $"agent:{agentId}");
        await db.SaveChangesAsync(ct);
        return TypedResults.NoContent();
    }

    static async Task<Results<Ok<AgentReloadResult>, ProblemHttpResult>> Reload(
        AgentFileCatalog files, AgentCatalog catalog, AgentVersions versions, AuditLog audit, AgentryDbContext db, HttpContext http, CancellationToken ct)
    {
        var result = files.Reload();
        if (result.Errors.Count == 0) await versions.RecordCurrentAsync(catalog, ct); // a changed file is a new version
        await audit.RecordAsync(db, AuditActor.From(http), AuditActions.AgentsReloaded, "agents", result.Errors.Count == 0 ? "success" : "failure",
            new { loaded = result.Agents.Count, errors = result.Errors }, ct);
        if (result.Errors.Count > 0)
        {
            return TypedResults.Problem(statusCode: 422, type: ProblemTypes.AgentsReloadFailed, title: "Agent files have errors",
                detail: "The previous agent definitions stay in force until the files are fixed.",
                extensions: new Dictionary<string, object?> { ["fileErrors"] = result.Errors });
        }
        return TypedResults.Ok(new AgentReloadResult(result.Agents.Count, result.Agents.Keys.Order(StringComparer.Ordinal).ToList()));
    }

    /// <summary>
    /// Refuses a key without the admin scope that gives an agent a tool <see cref="ToolCatalog.RequiresAdmin"/> names; a
    /// tool the agent already had (an admin granted it) may stay when the agent is edited.
    /// </summary>
    internal static ProblemHttpResult? CheckGrants(AgentDefinition agent, IReadOnlyCollection<string> alreadyGranted, ToolCatalog tools, HttpContext http)
    {
        if (http.GetCaller() is { IsAdmin: true }) return null;
        var added = agent.Tools.Where(t => tools.RequiresAdmin(t) && !alreadyGranted.Contains(t)).ToList();
        return added.Count == 0 ? null : TypedResults.Problem(statusCode: StatusCodes.Status403Forbidden, type: ProblemTypes.ToolGrantForbidden, title: "Admin key required",
            detail: $"Giving an agent {string.Join(", ", added)} needs an admin key: these tools reach outside Agentry (MCP servers, the network) or move money. " +
                "Ask an admin to grant them, or leave them out.");
    }

    static ValidationProblem? CheckReferences(AgentDefinition agent, ModelCatalog models, ToolCatalog tools) =>
        agent.ReferenceErrors(models, tools) is { IsEmpty: false } errors ? Problems.Validation(errors.ToDictionary()) : null;
}
