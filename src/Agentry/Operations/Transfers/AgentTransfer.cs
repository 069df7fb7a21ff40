using Agentry.Agents;
using Agentry.Audit;
using Agentry.Data;
using Agentry.Models;
using Agentry.Tools;
using Microsoft.EntityFrameworkCore;

namespace Agentry.Operations.Transfers;

/// <summary>What happened to one file of an agent import.</summary>
public sealed record AgentImportOutcome(string File, string? AgentId, string Outcome, string? Detail = null)
{
    public const string Created = "created";
    public const string Updated = "updated";
    public const string Unchanged = "unchanged";
    public const string Refused = "refused";
    public bool Failed => Outcome == Refused;
}

/// <summary>
/// Moves agents between installations as YAML, in exactly the format of the agents folder: an export can be imported
/// elsewhere, or dropped into <c>Agents:Directory</c> to become file agents. Imported agents become API agents (the
/// same as <c>PUT /v1/agents/{id}</c>), checked against this installation's models and tools first.
/// </summary>
public sealed class AgentTransfer(AgentCatalog catalog, AgentFileCatalog files, ModelCatalog models, ToolCatalog tools, AgentryDbContext db, AuditLog audit, TimeProvider time)
{
    /// <summary>Writes every agent (file and API ones) as <c>{id}.yaml</c>, and the global rules as <c>_global.yaml</c> when there are any.</summary>
    public async Task<IReadOnlyList<string>> ExportAsync(string folder, AuditActor actor, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(folder);
        var written = new List<string>();
        foreach (var agent in await catalog.ListAsync(cancellationToken))
        {
            var path = Path.Combine(folder, agent.Definition.Id + ".yaml");
            var origin = agent.Source == AgentEntry.FromFile ? $"the file {agent.File}" : "the API";
            await File.WriteAllTextAsync(path, $"# Agent '{agent.Definition.Id}', exported from Agentry {OperationsExtensions.Version} ({origin}) on {time.GetUtcNow():u}.\n" +
                AgentFiles.Write(agent.Definition), cancellationToken);
            written.Add(path);
        }
        if (files.GlobalRules.Count > 0)
        {
            var path = Path.Combine(folder, AgentFiles.GlobalRulesFileName);
            await File.WriteAllTextAsync(path, "# Rules applied to every agent. They live in files only: copy this file into Agents:Directory.\n" +
                AgentFiles.WriteGlobalRules(files.GlobalRules), cancellationToken);
            written.Add(path);
        }
        await audit.RecordAsync(db, actor, AuditActions.AgentsExported, "agents", detail: new { agents = written.Count, folder }, cancellationToken: cancellationToken);
        return written;
    }

    /// <summary>
    /// Imports one YAML file or every agent file of a folder, each on its own: a file that does not parse or names a
    /// model or tool this installation lacks is refused with the reason, and the others still import.
    /// </summary>
    public async Task<IReadOnlyList<AgentImportOutcome>> ImportAsync(string path, AuditActor actor, CancellationToken cancellationToken)
    {
        var paths = Directory.Exists(path) ? AgentFiles.AgentFilesIn(path).ToList() : [path];
        var outcomes = new List<AgentImportOutcome>();
        foreach (var file in paths)
        {
            var name = Path.GetFileName(file);
            var errors = new List<string>();
            if (!File.Exists(file)) { outcomes.Add(new(name, null, AgentImportOutcome.Refused, "There is no such file.")); continue; }
            if (AgentFiles.Read(file, errors) is not { } agent) { outcomes.Add(new(name, null, AgentImportOutcome.Refused, string.Join(" ", errors))); continue; }
            outcomes.Add(await ImportOneAsync(name, agent, actor, cancellationToken));
        }
        return outcomes;
    }

    async Task<AgentImportOutcome> ImportOneAsync(string name, AgentDefinition agent, AuditActor actor, CancellationToken cancellationToken)
    {
        var references = agent.ReferenceErrors(models, tools);
        if (!references.IsEmpty)
            return new(name, agent.Id, AgentImportOutcome.Refused, string.Join(" ", references.ToDictionary().Select(e => $"{e.Key}: {string.Join(" ", e.Value)}")));
        if (catalog.IsFileAgent(agent.Id, out var fileAgent))
        {
            return AgentCatalog.Serialize(fileAgent.Definition) == AgentCatalog.Serialize(agent)
                ? new(name, agent.Id, AgentImportOutcome.Unchanged, $"defined identically in {Path.GetFileName(fileAgent.Path)}")
                : new(name, agent.Id, AgentImportOutcome.Refused, $"'{agent.Id}' is defined in {Path.GetFileName(fileAgent.Path)} here; edit that file instead.");
        }

        var definition = AgentCatalog.Serialize(agent);
        var now = time.GetUtcNow();
        var stored = await db.Agents.FirstOrDefaultAsync(a => a.Id == agent.Id, cancellationToken);
        if (stored?.Definition == definition) return new(name, agent.Id, AgentImportOutcome.Unchanged);
        var created = stored is null;
        if (stored is null) db.Agents.Add(stored = new StoredAgent { Id = agent.Id, Definition = "", CreatedAt = now });
        stored.Definition = definition;
        stored.UpdatedAt = now;
        audit.Stage(db, actor, AuditActions.AgentsImported, $"agent:{agent.Id}", detail: new { file = name, created, agent.Name, agent.Model });
        await new AgentVersions(db, time).StageAsync(agent.Id, definition, AgentVersions.FromApi, null, cancellationToken); // an import is a change too
        await db.SaveChangesAsync(cancellationToken);
        return new(name, agent.Id, created ? AgentImportOutcome.Created : AgentImportOutcome.Updated);
    }
}
