using Agentry.Api;
using YamlDotNet.Core;
using YamlDotNet.Serialization;
using YamlDotNet.Serialization.NamingConventions;

namespace Agentry.Agents;

/// <summary>An agent defined in a YAML file.</summary>
public sealed record FileAgent(AgentDefinition Definition, string Path);

/// <summary>The result of reading the agents folder: the agents that loaded and, per file, what was wrong.</summary>
public sealed record AgentFileSet(IReadOnlyDictionary<string, FileAgent> Agents, IReadOnlyList<string> Errors)
{
    /// <summary>Rules from <c>_global.yaml</c>, applied to every agent before its own.</summary>
    public IReadOnlyList<Rules.AgentRule> GlobalRules { get; init; } = [];
}

/// <summary>The shape of <c>_global.yaml</c>.</summary>
public sealed record GlobalRulesFile
{
    public List<Rules.AgentRule> Rules { get; init => field = value ?? []; } = [];
}

/// <summary>Reads agent definitions from <c>*.yaml</c>/<c>*.yml</c> files (agents as code).</summary>
public static class AgentFiles
{
    static readonly IDeserializer Yaml = new DeserializerBuilder()
        .WithNamingConvention(CamelCaseNamingConvention.Instance)
        .WithTypeConverter(new AgentKnowledge.YamlShorthand())
        .WithCaseInsensitivePropertyMatching()
        .WithDuplicateKeyChecking() // "id: a" then "id: b" is a mistake to point at, not a silent last-one-wins
        .Build();

    public static AgentFileSet Load(string directory, Func<string, bool> toolExists)
    {
        var agents = new Dictionary<string, FileAgent>(StringComparer.Ordinal);
        var errors = new List<string>();
        if (!Directory.Exists(directory)) return new AgentFileSet(agents, errors);
        var globalRules = LoadGlobalRules(Path.Combine(directory, GlobalRulesFileName), errors);

        foreach (var path in AgentFilesIn(directory))
        {
            var name = System.IO.Path.GetFileName(path);
            if (Read(path, errors) is not { } agent) continue;
            var missingTools = agent.Tools.Where(t => !toolExists(t)).ToList();
            if (missingTools.Count > 0)
            {
                errors.AddRange(missingTools.Select(t => $"{name}: tools[{agent.Tools.IndexOf(t)}]: There is no tool named '{t}'."));
                continue;
            }
            if (agents.TryGetValue(agent.Id, out var other))
            {
                errors.Add($"{name}: agent id '{agent.Id}' is already defined in {System.IO.Path.GetFileName(other.Path)}.");
                continue;
            }
            agents[agent.Id] = new FileAgent(agent, path);
        }
        return new AgentFileSet(agents, errors) { GlobalRules = globalRules };
    }

    /// <summary>The agent files of a folder in a stable order: <c>*.yaml</c>/<c>*.yml</c>, not those starting with '_' such as <c>_global.yaml</c>.</summary>
    public static IEnumerable<string> AgentFilesIn(string directory) =>
        Directory.EnumerateFiles(directory, "*.*", SearchOption.TopDirectoryOnly)
            .Where(f => f.EndsWith(".yaml", StringComparison.OrdinalIgnoreCase) || f.EndsWith(".yml", StringComparison.OrdinalIgnoreCase))
            .Where(f => !System.IO.Path.GetFileName(f).StartsWith('_'))
            .Order(StringComparer.Ordinal);

    /// <summary>Reads and validates one agent file (an empty id takes the file's name); null, with the reasons added to <paramref name="errors"/>, when it is not a valid agent.</summary>
    public static AgentDefinition? Read(string path, ICollection<string> errors)
    {
        var name = System.IO.Path.GetFileName(path);
        AgentDefinition? agent;
        try
        {
            agent = Parse(File.ReadAllText(path));
        }
        catch (YamlException e)
        {
            errors.Add($"{name}, line {e.Start.Line}, column {e.Start.Column}: {Describe(e)}");
            return null;
        }
        if (agent is null) { errors.Add($"{name}: the file is empty."); return null; }
        if (string.IsNullOrEmpty(agent.Id)) agent = agent with { Id = System.IO.Path.GetFileNameWithoutExtension(path) };

        var validation = new ValidationErrors();
        agent.Validate(validation);
        if (validation.IsEmpty) return agent;
        foreach (var (field, messages) in validation.ToDictionary()) errors.Add($"{name}: {field}: {string.Join(" ", messages)}");
        return null;
    }

    /// <summary>An agent's YAML as a definition, not yet validated (null for an empty document); a <see cref="YamlException"/> when it is not YAML of that shape.</summary>
    public static AgentDefinition? Parse(string yaml) => Yaml.Deserialize<AgentDefinition>(yaml);

    /// <summary>A YAML error in the words of the file's author.</summary>
    public static string Describe(YamlException e) => Unwrap(e.InnerException?.Message ?? e.Message);

    /// <summary>Writes a definition in the shape <see cref="Read"/> accepts: defaults and empty lists left out, multi-line text as literal blocks.</summary>
    public static string Write(AgentDefinition agent) => YamlWriter.Serialize(agent);

    /// <summary>Writes rules in the shape of <c>_global.yaml</c>.</summary>
    public static string WriteGlobalRules(IEnumerable<Rules.AgentRule> rules) => YamlWriter.Serialize(new GlobalRulesFile { Rules = rules.ToList() });

    static readonly ISerializer YamlWriter = new SerializerBuilder()
        .WithNamingConvention(CamelCaseNamingConvention.Instance)
        .WithTypeConverter(new AgentKnowledge.YamlShorthand())
        .ConfigureDefaultValuesHandling(DefaultValuesHandling.OmitNull | DefaultValuesHandling.OmitEmptyCollections)
        .WithEventEmitter(next => new LiteralBlocksForMultilineText(next))
        .DisableAliases()
        .Build();

    sealed class LiteralBlocksForMultilineText(YamlDotNet.Serialization.IEventEmitter next) : YamlDotNet.Serialization.EventEmitters.ChainedEventEmitter(next)
    {
        public override void Emit(ScalarEventInfo eventInfo, IEmitter emitter)
        {
            if (eventInfo.Source.Value is string text && text.Contains('\n') && !text.Contains('\r')) eventInfo.Style = YamlDotNet.Core.ScalarStyle.Literal;
            base.Emit(eventInfo, emitter);
        }
    }

    public const string GlobalRulesFileName = "_global.yaml";

    static List<Rules.AgentRule> LoadGlobalRules(string path, List<string> errors)
    {
        if (!File.Exists(path)) return [];
        try
        {
            var file = Yaml.Deserialize<GlobalRulesFile>(File.ReadAllText(path)) ?? new GlobalRulesFile();
            var validation = new ValidationErrors();
            for (var i = 0; i < file.Rules.Count; i++) file.Rules[i].Validate(validation, $"rules[{i}]");
            if (validation.IsEmpty) return file.Rules;
            errors.AddRange(validation.ToDictionary().Select(e => $"{GlobalRulesFileName}: {e.Key}: {string.Join(" ", e.Value)}"));
        }
        catch (YamlException e)
        {
            errors.Add($"{GlobalRulesFileName}, line {e.Start.Line}, column {e.Start.Column}: {Unwrap(e.InnerException?.Message ?? e.Message)}");
        }
        return [];
    }

    // YamlDotNet says "Property 'colour' not found on type 'Agentry.Agents.Personality'."; users know YAML keys, not .NET types.
    /// <summary>YamlDotNet's messages name .NET types; say what the author of the file needs to know instead.</summary>
    static string Unwrap(string message)
    {
        message = System.Text.RegularExpressions.Regex.Replace(message, @" on type '[^']+'", "");
        var wrongType = System.Text.RegularExpressions.Regex.Match(message, @"^No node deserializer was able to deserialize the node into type (?:System\.Nullable`1\[\[)?System\.(?<type>\w+)");
        return wrongType.Success ? $"the value is not {Expected(wrongType.Groups["type"].Value)}" : message;
    }

    static string Expected(string type) => type switch
    {
        "String" => "a single text value",
        "Double" or "Single" or "Decimal" => "a number",
        "Int32" or "Int64" => "a whole number",
        "Boolean" => "true or false",
        _ => "of the expected kind",
    };
}
