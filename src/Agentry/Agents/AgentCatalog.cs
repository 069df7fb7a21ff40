using System.Text.Json;
using Agentry.Api;
using Agentry.Data;
using Agentry.Rules;
using Microsoft.EntityFrameworkCore;

namespace Agentry.Agents;

/// <summary>An agent as the service sees it, with where it came from.</summary>
public sealed record AgentEntry(AgentDefinition Definition, string Source, string? File, DateTimeOffset? CreatedAt, DateTimeOffset? UpdatedAt)
{
    public const string FromFile = "file";
    public const string FromApi = "api";
}

/// <summary>
/// Every agent the service knows, for one request: definitions from YAML files (<see cref="AgentFileCatalog"/>) and
/// definitions created through the API (in the database). On an id conflict the file wins: files are the reviewed,
/// versioned source of truth, and the API refuses to create or change an agent a file defines.
/// </summary>
public sealed class AgentCatalog(AgentFileCatalog files, AgentryDbContext db)
{
    static readonly JsonSerializerOptions Json = CreateJson();

    /// <summary>The rules enforced for an agent: the global ones, then its own.</summary>
    public IEnumerable<AgentRule> EnforcedRules(AgentDefinition agent) => files.GlobalRules.Concat(agent.Rules).Where(r => r.IsEnforced);

    public bool IsFileAgent(string id, out FileAgent agent) => files.TryGet(id, out agent);

    public async Task<AgentEntry?> FindAsync(string id, CancellationToken cancellationToken)
    {
        if (files.TryGet(id, out var file)) return FromFile(file);
        var stored = await db.Agents.AsNoTracking().FirstOrDefaultAsync(a => a.Id == id, cancellationToken);
        return stored is null ? null : FromStored(stored);
    }

    /// <summary>All agents ordered by id; agent counts are small (tens), so the merge happens in memory.</summary>
    public async Task<List<AgentEntry>> ListAsync(CancellationToken cancellationToken)
    {
        var fromFiles = files.All;
        var stored = await db.Agents.AsNoTracking().ToListAsync(cancellationToken);
        return fromFiles.Values.Select(FromFile)
            .Concat(stored.Where(s => !fromFiles.ContainsKey(s.Id)).Select(FromStored))
            .OrderBy(a => a.Definition.Id, StringComparer.Ordinal)
            .ToList();
    }

    public static string Serialize(AgentDefinition definition) => JsonSerializer.Serialize(definition, Json);

    public static AgentDefinition Deserialize(string stored) => JsonSerializer.Deserialize<AgentDefinition>(stored, Json)!;

    static AgentEntry FromFile(FileAgent file) => new(file.Definition, AgentEntry.FromFile, Path.GetFileName(file.Path), null, null);

    static AgentEntry FromStored(StoredAgent stored) =>
        new(Deserialize(stored.Definition) with { Version = AgentVersions.Hash(stored.Definition) }, AgentEntry.FromApi, null, stored.CreatedAt, stored.UpdatedAt);

    static JsonSerializerOptions CreateJson()
    {
        var options = new JsonSerializerOptions(JsonSerializerDefaults.Web);
        ApiExtensions.ConfigureJson(options);
        // Stored definitions written by an older build may lack or carry fields; reading them must not fail.
        options.UnmappedMemberHandling = System.Text.Json.Serialization.JsonUnmappedMemberHandling.Skip;
        return options;
    }
}
