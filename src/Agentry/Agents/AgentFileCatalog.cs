using Agentry.Rules;
using Agentry.Tools;
using Microsoft.Extensions.Options;

namespace Agentry.Agents;

/// <summary>
/// The agents defined in the YAML folder, held in memory and swapped whole on reload, so a request always sees one
/// consistent set. <see cref="AgentCatalog"/> merges them with the agents stored through the API.
/// </summary>
public sealed partial class AgentFileCatalog
{
    readonly ToolCatalog _tools;
    readonly ILogger<AgentFileCatalog> _logger;
    volatile AgentFileSet _files = new(new Dictionary<string, FileAgent>(), []);

    public AgentFileCatalog(IOptions<AgentOptions> options, IHostEnvironment environment, ToolCatalog tools, ILogger<AgentFileCatalog> logger)
    {
        _tools = tools;
        _logger = logger;
        ServesSamples = options.Value.ServesSamples;
        Directory = options.Value.EffectiveDirectory is { } directory ? ResolveDirectory(directory, environment.ContentRootPath) : "";
    }

    /// <summary>The folder agent files are read from; empty when there is none (samples off, no folder of one's own).</summary>
    public string Directory { get; }

    /// <summary>Whether the agents are the bundled help-desk samples (<see cref="AgentOptions.Samples"/>).</summary>
    public bool ServesSamples { get; }

    /// <summary>Rules every agent obeys before its own (from <c>_global.yaml</c> in the agents folder).</summary>
    public IReadOnlyList<AgentRule> GlobalRules => _files.GlobalRules;

    public IReadOnlyDictionary<string, FileAgent> All => _files.Agents;

    public bool TryGet(string id, out FileAgent agent) => _files.Agents.TryGetValue(id, out agent!);

    /// <summary>Reads the folder. On errors the previous set stays in force and the errors are returned.</summary>
    public AgentFileSet Reload()
    {
        var loaded = AgentFiles.Load(Directory, _tools.Exists);
        if (loaded.Errors.Count > 0)
        {
            foreach (var error in loaded.Errors) LogFileError(error);
            return loaded;
        }
        // Each definition carries its version (the hash of its content), computed once per load rather than per turn.
        _files = loaded with
        {
            Agents = loaded.Agents.ToDictionary(a => a.Key, a => a.Value with { Definition = a.Value.Definition with { Version = AgentVersions.Hash(a.Value.Definition) } },
                StringComparer.Ordinal),
        };
        if (Directory.Length == 0) LogNoFolder();
        else LogLoaded(loaded.Agents.Count, Directory);
        return _files;
    }

    /// <summary>A configured folder: absolute as given; relative, under the content root if it exists there, else next to the executable.</summary>
    internal static string ResolveDirectory(string configured, string contentRoot)
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

    [LoggerMessage(EventId = 2002, Level = LogLevel.Information, Message = "No agent files: the samples are off (Agents:Samples) and no Agents:Directory is set; agents come from the API")]
    partial void LogNoFolder();
}
