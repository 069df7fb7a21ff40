using Agentry.Agents;
using Agentry.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Agentry.Evals;

/// <summary>
/// The suites a run can use: the files of the evals folder and those created through the API (a file wins on an id
/// conflict, as agent files do). Each is checked against the agents it names.
/// </summary>
public sealed class EvalSuites(AgentryDbContext db, AgentCatalog agents, AgentFileCatalog files, Tools.ToolCatalog tools, IOptions<EvalOptions> options,
    IHostEnvironment environment)
{
    /// <summary>The evals folder, or null when there is none.</summary>
    public string? Folder => options.Value.EffectiveDirectory(files.Directory) is { } folder ? AgentFileCatalog.ResolveDirectory(folder, environment.ContentRootPath) : null;

    /// <summary>Every suite, and for each that cannot be used, why (prefixed with its file or id).</summary>
    public async Task<(List<EvalSuite> Suites, List<string> Errors)> LoadAllAsync(CancellationToken cancellationToken)
    {
        var suites = new List<EvalSuite>();
        var errors = new List<string>();
        if (Folder is { } folder && Directory.Exists(folder))
            foreach (var path in AgentFiles.AgentFilesIn(folder))
                if (await ReadFileAsync(path, errors, cancellationToken) is { } suite) suites.Add(suite);
        foreach (var stored in await db.EvalSuites.AsNoTracking().OrderBy(s => s.Id).ToListAsync(cancellationToken))
        {
            if (suites.Any(s => s.Id == stored.Id)) continue; // the file defines it
            var problems = new List<string>();
            if (EvalSuiteReader.Read(stored.Yaml, stored.Id, EvalSuite.FromApi, problems) is { } suite && await CheckAsync(suite, problems, cancellationToken)) suites.Add(suite);
            errors.AddRange(problems.Select(p => $"suite '{stored.Id}': {p}"));
        }
        foreach (var duplicate in suites.GroupBy(s => s.Id).Where(g => g.Count() > 1))
            errors.Add($"suite id '{duplicate.Key}' is defined by {string.Join(" and ", duplicate.Select(s => s.Source))}.");
        return (suites, errors);
    }

    /// <summary>A suite file given by its path (the command line may name a file outside the folder).</summary>
    public async Task<EvalSuite?> ReadFileAsync(string path, List<string> errors, CancellationToken cancellationToken)
    {
        var name = Path.GetFileName(path);
        var problems = new List<string>();
        var suite = EvalSuiteReader.Read(await File.ReadAllTextAsync(path, cancellationToken), Path.GetFileNameWithoutExtension(path).ToLowerInvariant(), name, problems);
        if (suite is not null) await CheckAsync(suite, problems, cancellationToken);
        errors.AddRange(problems.Select(p => $"{name}, {p}"));
        return problems.Count == 0 ? suite : null;
    }

    /// <summary>
    /// Whether every agent the suite starts a case at and every tool it names exists (a misspelt <c>noTool</c> would
    /// pass for ever); adds what does not.
    /// </summary>
    public async Task<bool> CheckAsync(EvalSuite suite, List<string> errors, CancellationToken cancellationToken)
    {
        var known = (await agents.ListAsync(cancellationToken)).Select(a => a.Definition.Id).ToHashSet(StringComparer.Ordinal);
        var before = errors.Count;
        if (suite.Agent is { } agent && !known.Contains(agent)) errors.Add($"suite '{suite.Id}': there is no agent '{agent}'.");
        foreach (var evalCase in suite.Cases)
        {
            if (evalCase.Agent is { } caseAgent && !known.Contains(caseAgent)) errors.Add($"case '{evalCase.Id}': there is no agent '{caseAgent}'.");
            foreach (var tool in evalCase.ToolResults.Keys.Where(t => !tools.Exists(t)))
                errors.Add($"case '{evalCase.Id}': tools: there is no tool '{tool}'.");
            foreach (var (expectation, line) in evalCase.Turns.SelectMany(t => t.Expect).Select(e => (e, e.Line)))
            {
                var name = expectation.Spec switch { ToolExpectation t => t.Name, string s when expectation.Kind == ExpectationKinds.NoTool => s, _ => null };
                if (name is not null && !tools.Exists(name)) errors.Add($"line {line}: {expectation.Kind}: there is no tool '{name}'.");
            }
        }
        return errors.Count == before;
    }
}
