using Agentry.Api;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Agentry.Agents;

/// <summary>One problem of an agent written as YAML, at the line and column it is about (1-based) when it has one.</summary>
public sealed record AgentYamlError(int? Line, int? Column, string? Field, string Message);

/// <summary>What checking an agent's YAML found: the definition it reads as, or the errors.</summary>
public sealed record AgentYamlCheck(AgentDefinition? Agent, IReadOnlyList<AgentYamlError> Errors);

/// <summary>An agent's definition as YAML, in the shape an agent file takes (what the console's editor shows).</summary>
public sealed record AgentYamlText(string AgentId, string Yaml, string Source);

/// <summary>An agent written as YAML, to check (<c>POST /v1/agents:check</c>).</summary>
public sealed record AgentYamlRequest(string? Yaml) : IValidatable
{
    public const int MaxLength = 256 * 1024;

    public void Validate(ValidationErrors errors) => errors.Required("yaml", Yaml, MaxLength);
}

/// <summary>
/// Reads an agent's YAML exactly as an agent file is read, and says where each problem is: YAML syntax errors carry
/// their position, and a field the definition's validation names (<c>rules[1].when.condition</c>) is found in the
/// document, so an editor can point at the line.
/// </summary>
public static class AgentYaml
{
    /// <summary>Checks <paramref name="yaml"/>; <paramref name="references"/> adds what only the running service knows (its models and tools).</summary>
    public static AgentYamlCheck Check(string yaml, Func<AgentDefinition, ValidationErrors>? references = null)
    {
        AgentDefinition? agent;
        try
        {
            agent = AgentFiles.Parse(yaml);
        }
        catch (YamlException e)
        {
            return new AgentYamlCheck(null, [new AgentYamlError((int)e.Start.Line, (int)e.Start.Column, null, AgentFiles.Describe(e))]);
        }
        if (agent is null) return new AgentYamlCheck(null, [new AgentYamlError(null, null, null, "The document is empty.")]);
        var validation = new ValidationErrors();
        agent.Validate(validation);
        if (validation.IsEmpty && references is not null) validation = references(agent);
        if (validation.IsEmpty) return new AgentYamlCheck(agent, []);
        var root = Root(yaml);
        return new AgentYamlCheck(null, validation.ToDictionary()
            .Select(e => (Field: e.Key, Message: string.Join(" ", e.Value), Node: Find(root, e.Key)))
            .Select(e => new AgentYamlError(e.Node is null ? null : (int)e.Node.Start.Line, e.Node is null ? null : (int)e.Node.Start.Column, e.Field, e.Message))
            .OrderBy(e => e.Line ?? int.MaxValue).ToList());
    }

    /// <summary>The document's tree, to find fields in; null when it cannot be built (the errors then have no position).</summary>
    static YamlNode? Root(string yaml)
    {
        try
        {
            var stream = new YamlStream();
            stream.Load(new StringReader(yaml));
            return stream.Documents.FirstOrDefault()?.RootNode;
        }
        catch (YamlException)
        {
            return null;
        }
    }

    /// <summary>The node a validation field names (<c>personality.tone</c>, <c>rules[1].when.condition</c>), or its nearest parent that exists.</summary>
    static YamlNode? Find(YamlNode? node, string field)
    {
        foreach (var part in System.Text.RegularExpressions.Regex.Matches(field, @"[^.\[\]]+|\[\d+\]").Select(m => m.Value))
        {
            YamlNode? next = node switch
            {
                YamlSequenceNode list when part.StartsWith('[') && int.Parse(part[1..^1], System.Globalization.CultureInfo.InvariantCulture) is var i && i < list.Children.Count => list.Children[i],
                YamlMappingNode map => map.Children.FirstOrDefault(c => c.Key is YamlScalarNode k && string.Equals(k.Value, part, StringComparison.OrdinalIgnoreCase)).Value,
                _ => null,
            };
            if (next is null) return node;
            node = next;
        }
        return node;
    }
}
