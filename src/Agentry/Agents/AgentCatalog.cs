using System.Text.Json;
using Agentry.Api;
using Agentry.Data;
using Agentry.Tools;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Agentry.Agents;

public sealed class AgentOptions
{
    public const string Section = "Agents";

    /// <summary>Folder of agent YAML files; a relative path is looked up under the content root, then next to the executable.</summary>
    public string Directory { get; set; } = "agent-definitions";

    /// <summary>Reload the folder when a file changes (on in Development). POST /v1/agents:reload always works.</summary>
    public bool Watch { get; set; }
}

/// <summary>An agent as the service sees it, with where it came from.</summary>
public sealed record AgentEntry(AgentDefinition Definition, string Source, string? File, DateTimeOffset? CreatedAt, DateTimeOffset? UpdatedAt)
{
    public const string FromFile = "file";
    public const string FromApi = "api";
}

/// <summary>
/// Every agent the service knows: definitions from YAML files (held in memory, swapped whole on reload) and
/// definitions created through the API (in the database). On an id conflict the file wins: files are the
/// reviewed, versioned source of truth, and the API refuses to create or change an agent a file defines.
/// </summary>
public sealed partial class AgentCatalog
{
    static readonly JsonSerializerOptions Json = CreateJson();
    readonly ToolCatalog _tools;
    readonly ILogger<AgentCatalog> _logger;
    volatile AgentFileSet _files = new(new Dictionary<string, FileAgent>(), []);

    public AgentCatalog(IOptions<AgentOptions> options, IHostEnvironment environment, ToolCatalog tools, ILogger<AgentCatalog> logger)
    {
        _tools = tools;
        _logger = logger;
        Directory = ResolveDirectory(options.Value.Directory, environment.ContentRootPath);
    }

    public string Directory { get; }

    /// <summary>Rules every agent obeys before its own (from <c>_global.yaml</c> in the agents folder).</summary>
    public IReadOnlyList<Rules.AgentRule> GlobalRules => _files.GlobalRules;

    /// <summary>The rules enforced for an agent: the global ones, then its own.</summary>
    public IEnumerable<Rules.AgentRule> EnforcedRules(AgentDefinition agent) => GlobalRules.Concat(agent.Rules).Where(r => r.IsEnforced);

    /// <summary>Reads the folder. On errors the previous set stays in force and the errors are returned.</summary>
    public AgentFileSet Reload()
    {
        var loaded = AgentFiles.Load(Directory, _tools.Exists);
        if (loaded.Errors.Count > 0)
        {
            foreach (var error in loaded.Errors) LogFileError(error);
            return loaded;
        }
        _files = loaded;
        LogLoaded(loaded.Agents.Count, Directory);
        return loaded;
    }

    public bool IsFileAgent(string id, out FileAgent agent) => _files.Agents.TryGetValue(id, out agent!);

    public async Task<AgentEntry?> FindAsync(string id, AgentryDbContext db, CancellationToken cancellationToken)
    {
        if (_files.Agents.TryGetValue(id, out var file)) return FromFile(file);
        var stored = await db.Agents.AsNoTracking().FirstOrDefaultAsync(a => a.Id == id, cancellationToken);
        return stored is null ? null : FromStored(stored);
    }

    /// <summary>All agents ordered by id; agent counts are small (tens), so the merge happens in memory.</summary>
    public async Task<List<AgentEntry>> ListAsync(AgentryDbContext db, CancellationToken cancellationToken)
    {
        var files = _files.Agents;
        var stored = await db.Agents.AsNoTracking().ToListAsync(cancellationToken);
        return files.Values.Select(FromFile)
            .Concat(stored.Where(s => !files.ContainsKey(s.Id)).Select(FromStored))
            .OrderBy(a => a.Definition.Id, StringComparer.Ordinal)
            .ToList();
    }

    public static string Serialize(AgentDefinition definition) => JsonSerializer.Serialize(definition, Json);

    static AgentEntry FromFile(FileAgent file) => new(file.Definition, AgentEntry.FromFile, Path.GetFileName(file.Path), null, null);

    static AgentEntry FromStored(StoredAgent stored) =>
        new(JsonSerializer.Deserialize<AgentDefinition>(stored.Definition, Json)!, AgentEntry.FromApi, null, stored.CreatedAt, stored.UpdatedAt);

    static JsonSerializerOptions CreateJson()
    {
        var options = new JsonSerializerOptions(JsonSerializerDefaults.Web);
        ApiExtensions.ConfigureJson(options);
        // Stored definitions written by an older build may lack or carry fields; reading them must not fail.
        options.UnmappedMemberHandling = System.Text.Json.Serialization.JsonUnmappedMemberHandling.Skip;
        return options;
    }

    static string ResolveDirectory(string configured, string contentRoot)
    {
        if (Path.IsPathRooted(configured)) return configured;
        var underContentRoot = Path.GetFullPath(Path.Combine(contentRoot, configured));
        if (System.IO.Directory.Exists(underContentRoot)) return underContentRoot;
        return Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, configured));
    }

    [LoggerMessage(EventId = 2000, Level = LogLevel.Error, Message = "Agent file error: {Error}")]
    partial void LogFileError(string error);

    [LoggerMessage(EventId = 2001, Level = LogLevel.Information, Message = "Loaded {Count} agent(s) from {Directory}")]
    partial void LogLoaded(int count, string directory);
}
