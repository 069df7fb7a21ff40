using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Agentry.Data;
using Microsoft.EntityFrameworkCore;

namespace Agentry.Agents;

/// <summary>
/// The history of every agent: a version is recorded whenever its content changes — through the API (in the same
/// transaction as the change), in its file (when the folder is loaded) or by a restore. Versions are never edited.
/// </summary>
public sealed class AgentVersions(AgentryDbContext db, TimeProvider time)
{
    public const string FromFile = "file";
    public const string FromApi = "api";
    public const string FromRestore = "restore";

    /// <summary>A definition's version: the first 12 hex digits of the SHA-256 of its JSON as the API stores it.</summary>
    public static string Hash(string definitionJson) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(definitionJson)))[..12];

    public static string Hash(AgentDefinition definition) => Hash(AgentCatalog.Serialize(definition with { Version = null }));

    /// <summary>
    /// Adds the next version of <paramref name="agentId"/> to the unit of work when <paramref name="definitionJson"/>
    /// differs from its latest; the caller's SaveChanges stores it with the change itself. Null when nothing changed.
    /// </summary>
    public async Task<AgentVersion?> StageAsync(string agentId, string definitionJson, string source, string? authorKeyId, CancellationToken cancellationToken,
        int? restoredFrom = null)
    {
        var hash = Hash(definitionJson);
        var latest = await db.AgentVersions.AsNoTracking().Where(v => v.AgentId == agentId).OrderByDescending(v => v.Version)
            .Select(v => new { v.Version, v.Hash }).FirstOrDefaultAsync(cancellationToken);
        if (latest?.Hash == hash && restoredFrom is null) return null;
        var version = new AgentVersion
        {
            AgentId = agentId, Version = (latest?.Version ?? 0) + 1, Hash = hash, Definition = definitionJson, Source = source, AuthorKeyId = authorKeyId,
            RestoredFrom = restoredFrom, CreatedAt = time.GetUtcNow(),
        };
        db.AgentVersions.Add(version);
        return version;
    }

    /// <summary>
    /// Records the agents as they are now (at start, and after the folder is reloaded): a changed file, or an API agent
    /// from before versions existed, gets its next version. Another instance recording the same change first is fine.
    /// </summary>
    public async Task RecordCurrentAsync(AgentCatalog catalog, CancellationToken cancellationToken)
    {
        foreach (var agent in await catalog.ListAsync(cancellationToken))
        {
            var json = agent.Source == AgentEntry.FromFile
                ? AgentCatalog.Serialize(agent.Definition with { Version = null })
                : await db.Agents.AsNoTracking().Where(a => a.Id == agent.Definition.Id).Select(a => a.Definition).FirstAsync(cancellationToken);
            if (await StageAsync(agent.Definition.Id, json, agent.Source == AgentEntry.FromFile ? FromFile : FromApi, null, cancellationToken) is null) continue;
            try
            {
                await db.SaveChangesAsync(cancellationToken);
            }
            catch (DbUpdateException)
            {
                db.ChangeTracker.Clear(); // another instance recorded this version a moment ago
            }
        }
    }

    /// <summary>The top-level fields of the definition that differ between two versions' JSON (what a change touched).</summary>
    public static IReadOnlyList<string> ChangedFields(string? previousJson, string json)
    {
        var before = previousJson is null ? new JsonObject() : JsonNode.Parse(previousJson)!.AsObject();
        var after = JsonNode.Parse(json)!.AsObject();
        return before.Select(p => p.Key).Union(after.Select(p => p.Key)).Order(StringComparer.Ordinal)
            .Where(k => !JsonNode.DeepEquals(before[k], after[k])).ToList();
    }
}
