using Agentry.Api;
using Agentry.Audit;
using Agentry.Data;
using Agentry.Models;
using Agentry.Security;
using Agentry.Tools;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace Agentry.Agents;

/// <summary>One version of an agent in a list: what changed (the definition's top-level fields; none for the first) and who changed it.</summary>
public sealed record AgentVersionDto(
    string AgentId, int Version, string Hash, string Source, string? AuthorKeyId, int? RestoredFrom, DateTimeOffset CreatedAt, bool Current,
    IReadOnlyList<string> Changed);

/// <summary>One version in full: its definition as an agent file, and the lines that differ from the version before it.</summary>
public sealed record AgentVersionDetailDto(AgentVersionDto Version, string Yaml, IReadOnlyList<string> Diff);

/// <summary>The versions endpoints of <see cref="AgentsApi"/>: list, read, restore.</summary>
public static class AgentVersionsApi
{
    public static void MapAgentVersions(this RouteGroupBuilder group)
    {
        group.MapGet("/{agentId}/versions", List).WithName("ListAgentVersions").RequireAuthorization(Policies.ReadAgents)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .WithSummary("An agent's versions, newest first: each change (API, file or restore) with its hash, author, time and the fields it changed.");
        group.MapGet("/{agentId}/versions/{version:int}", Get).WithName("GetAgentVersion").RequireAuthorization(Policies.ReadAgents)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .WithSummary("One version of an agent: its definition as YAML and its diff against the version before.");
        group.MapPost("/{agentId}/versions/{version:int}/restore", Restore).WithName("RestoreAgentVersion").RequireAuthorization(Policies.AgentsWrite)
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict).ProducesProblem(StatusCodes.Status403Forbidden)
            .WithSummary("Make an earlier version of an API agent current again (recorded as a new version, audited). A file-defined agent is restored by editing its file.");
    }

    static async Task<Results<Ok<Page<AgentVersionDto>>, ValidationProblem, ProblemHttpResult>> List(
        string agentId, int? limit, string? cursor, AgentryDbContext db, CancellationToken ct)
    {
        if (!Pagination.TryGetLimit(limit, out var take, out var errors)) return Problems.Validation(errors.ToDictionary());
        var before = int.MaxValue;
        if (cursor is not null && !int.TryParse(cursor, out before)) return Problems.Validation("cursor", "Not a cursor returned by this endpoint.");
        var latest = await db.AgentVersions.AsNoTracking().Where(v => v.AgentId == agentId).MaxAsync(v => (int?)v.Version, ct);
        if (latest is null) return Problems.NotFound(ProblemTypes.AgentNotFound, $"Agent '{agentId}' has no recorded versions.");
        // One more than the page: each version's changes are against the one before it.
        var rows = await db.AgentVersions.AsNoTracking().Where(v => v.AgentId == agentId && v.Version < before)
            .OrderByDescending(v => v.Version).Take(take + 2).ToListAsync(ct);
        var dtos = rows.Take(take + 1).Select((v, i) => Describe(v, i + 1 < rows.Count ? rows[i + 1] : null, latest.Value)).ToList();
        return TypedResults.Ok(Pagination.ToPage(dtos, take, d => d, d => d.Version.ToString(System.Globalization.CultureInfo.InvariantCulture)));
    }

    static async Task<Results<Ok<AgentVersionDetailDto>, ProblemHttpResult>> Get(string agentId, int version, AgentryDbContext db, CancellationToken ct)
    {
        var rows = await db.AgentVersions.AsNoTracking().Where(v => v.AgentId == agentId && v.Version <= version && v.Version >= version - 1)
            .OrderByDescending(v => v.Version).ToListAsync(ct);
        if (rows.FirstOrDefault() is not { } found || found.Version != version) return NotFound(agentId, version);
        var previous = rows.Skip(1).FirstOrDefault();
        var latest = await db.AgentVersions.AsNoTracking().Where(v => v.AgentId == agentId).MaxAsync(v => v.Version, ct);
        var yaml = Yaml(found);
        return TypedResults.Ok(new AgentVersionDetailDto(Describe(found, previous, latest), yaml, LineDiff.Between(previous is null ? "" : Yaml(previous), yaml)));
    }

    static async Task<Results<Ok<AgentDto>, ProblemHttpResult, ValidationProblem>> Restore(
        string agentId, int version, AgentCatalog catalog, AgentVersions versions, ModelCatalog models, ToolCatalog tools, AgentryDbContext db, AuditLog audit,
        TimeProvider time, HttpContext http, CancellationToken ct)
    {
        if (catalog.IsFileAgent(agentId, out var file))
            return Problems.Conflict(ProblemTypes.AgentDefinedInFile,
                $"Agent '{agentId}' is defined in {Path.GetFileName(file.Path)}: files are the source of truth, so restore it by writing version {version}'s YAML " +
                $"(GET /v1/agents/{agentId}/versions/{version}) into the file and reloading.");
        var found = await db.AgentVersions.AsNoTracking().FirstOrDefaultAsync(v => v.AgentId == agentId && v.Version == version, ct);
        if (found is null) return NotFound(agentId, version);
        var definition = AgentCatalog.Deserialize(found.Definition);
        // The version must still make sense here (a model endpoint or an MCP server may be gone since)…
        if (definition.ReferenceErrors(models, tools) is { IsEmpty: false } invalid) return Problems.Validation(invalid.ToDictionary());
        var stored = await db.Agents.FirstOrDefaultAsync(a => a.Id == agentId, ct);
        // …and a restore cannot give an agent more than the key could grant by writing it (AgentsApi.CheckGrants).
        var current = stored is null ? [] : AgentCatalog.Deserialize(stored.Definition).Tools;
        if (AgentsApi.CheckGrants(definition, current, tools, http) is { } refused) return refused;

        var now = time.GetUtcNow();
        if (stored is null) db.Agents.Add(stored = new StoredAgent { Id = agentId, Definition = "", CreatedAt = now });
        stored.Definition = found.Definition;
        stored.UpdatedAt = now;
        var restored = await versions.StageAsync(agentId, found.Definition, AgentVersions.FromRestore, http.GetCaller()?.KeyId, ct, restoredFrom: version);
        audit.Stage(db, AuditActor.From(http), AuditActions.AgentRestored, $"agent:{agentId}", detail: new { restoredFrom = version, version = restored?.Version, hash = found.Hash });
        try
        {
            await db.SaveChangesAsync(ct);
        }
        catch (DbUpdateException)
        {
            return Problems.Conflict(ProblemTypes.Conflict, $"Agent '{agentId}' changed while it was being restored; read its versions and try again.");
        }
        return TypedResults.Ok(AgentDto.From(new AgentEntry(definition with { Version = found.Hash }, AgentEntry.FromApi, null, stored.CreatedAt, now)));
    }

    static AgentVersionDto Describe(AgentVersion v, AgentVersion? previous, int latest) =>
        new(v.AgentId, v.Version, v.Hash, v.Source, v.AuthorKeyId, v.RestoredFrom, v.CreatedAt, v.Version == latest,
            previous is null ? [] : AgentVersions.ChangedFields(previous.Definition, v.Definition)); // a first version changed nothing: it began

    static string Yaml(AgentVersion v) => AgentFiles.Write(AgentCatalog.Deserialize(v.Definition));

    static ProblemHttpResult NotFound(string agentId, int version) =>
        Problems.NotFound(ProblemTypes.AgentVersionNotFound, $"Agent '{agentId}' has no version {version}. See GET /v1/agents/{agentId}/versions.");
}
