using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Agentry.Api;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Agentry.Evals;

/// <summary>
/// Reads a suite's YAML into an <see cref="EvalSuite"/>, or says what is wrong at which line: an expectation the reader
/// does not know is an error, never a check silently skipped.
/// </summary>
public static partial class EvalSuiteReader
{
    static readonly JsonSerializerOptions StrictJson = new(JsonSerializerDefaults.Web)
    {
        UnmappedMemberHandling = System.Text.Json.Serialization.JsonUnmappedMemberHandling.Disallow,
    };
    static readonly string[] SuiteKeys = ["suite", "description", "agent", "cases"];
    static readonly string[] CaseKeys = ["id", "description", "agent", "userId", "memories", "personality", "tools", "turns"];
    static readonly string[] TurnKeys = ["user", "expect"];

    /// <summary>Deepest nesting of mappings and lists a suite may have (a suite needs about 8): the tree is built recursively.</summary>
    const int MaxDepth = 32;

    /// <summary>Most YAML nodes in one suite: thousands of cases, not an expansion bomb.</summary>
    const int MaxNodes = 200_000;

    /// <summary>The suite, or null with each problem in <paramref name="errors"/> as "line N: …".</summary>
    public static EvalSuite? Read(string yaml, string defaultId, string source, List<string> errors)
    {
        // Checked as a stream of events first (no recursion, no tree): a suite from a key must not be able to
        // overflow the stack with nesting or multiply itself through aliases.
        if (!IsBounded(yaml, errors)) return null;
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(yaml));
        }
        catch (YamlException e)
        {
            errors.Add($"line {e.Start.Line}: {e.InnerException?.Message ?? e.Message}");
            return null;
        }
        if (stream.Documents.Count == 0 || stream.Documents[0].RootNode is not YamlMappingNode root)
        {
            errors.Add("line 1: a suite is a mapping with 'suite' and 'cases'.");
            return null;
        }
        var before = errors.Count;
        Keys(root, SuiteKeys, "suite", errors);
        var id = Scalar(root, "suite", errors) ?? defaultId;
        if (!IsSlug(id)) errors.Add($"line {Line(root)}: suite '{id}' must be 1-64 characters of a-z, 0-9 and '-'.");
        var cases = new List<EvalCase>();
        if (Child(root, "cases") is not YamlSequenceNode caseNodes || caseNodes.Children.Count == 0)
            errors.Add($"line {Line(root)}: 'cases' must list at least one case.");
        else
        {
            foreach (var node in caseNodes.Children)
                if (ReadCase(node, errors) is { } evalCase) cases.Add(evalCase);
            foreach (var duplicate in cases.GroupBy(c => c.Id).Where(g => g.Count() > 1))
                errors.Add($"case id '{duplicate.Key}' is used {duplicate.Count()} times; each case needs its own.");
        }
        return errors.Count > before ? null : new EvalSuite(id, Scalar(root, "description", errors), Scalar(root, "agent", errors), cases, source);
    }

    static bool IsBounded(string yaml, List<string> errors)
    {
        var parser = new YamlDotNet.Core.Parser(new StringReader(yaml));
        var (depth, nodes) = (0, 0);
        try
        {
            while (parser.MoveNext())
            {
                switch (parser.Current)
                {
                    case YamlDotNet.Core.Events.AnchorAlias alias:
                        errors.Add($"line {alias.Start.Line}: aliases (*name) are not allowed in a suite; write the value out.");
                        return false;
                    case YamlDotNet.Core.Events.MappingStart or YamlDotNet.Core.Events.SequenceStart when ++depth > MaxDepth:
                        errors.Add($"line {parser.Current.Start.Line}: nested more than {MaxDepth} levels deep.");
                        return false;
                    case YamlDotNet.Core.Events.MappingEnd or YamlDotNet.Core.Events.SequenceEnd:
                        depth--;
                        break;
                }
                if (parser.Current is YamlDotNet.Core.Events.NodeEvent && ++nodes > MaxNodes)
                {
                    errors.Add($"line {parser.Current.Start.Line}: more than {MaxNodes} values; split the suite.");
                    return false;
                }
            }
        }
        catch (YamlException e)
        {
            errors.Add($"line {e.Start.Line}: {e.InnerException?.Message ?? e.Message}");
            return false;
        }
        return true;
    }

    static EvalCase? ReadCase(YamlNode node, List<string> errors)
    {
        if (node is not YamlMappingNode map)
        {
            errors.Add($"line {node.Start.Line}: a case is a mapping with 'id' and 'turns'.");
            return null;
        }
        Keys(map, CaseKeys, "case", errors);
        var id = Scalar(map, "id", errors);
        if (id is null || !IsSlug(id))
        {
            errors.Add($"line {Line(map)}: a case needs an 'id' of 1-64 characters of a-z, 0-9 and '-'.");
            return null;
        }
        var turns = new List<EvalTurn>();
        if (Child(map, "turns") is not YamlSequenceNode turnNodes || turnNodes.Children.Count == 0)
            errors.Add($"line {Line(map)}: case '{id}' needs 'turns', each with a 'user' message.");
        else
            foreach (var turnNode in turnNodes.Children)
                if (ReadTurn(turnNode, id, errors) is { } turn) turns.Add(turn);

        var memories = Strings(Child(map, "memories"), "memories", errors);
        foreach (var memory in memories.Where(m => m.Trim().Length is 0 or > Memory.UserMemories.MaxTextLength))
            errors.Add($"line {Child(map, "memories")!.Start.Line}: each memory is 1-{Memory.UserMemories.MaxTextLength} characters.");
        var tools = new Dictionary<string, string>(StringComparer.Ordinal);
        if (Child(map, "tools") is YamlMappingNode toolMap)
            foreach (var (key, value) in toolMap.Children)
                if (KeyOf(key, errors) is { } tool)
                {
                    if (value is YamlScalarNode { Value: { } result }) tools[tool] = result;
                    else errors.Add($"line {value.Start.Line}: tools: '{tool}' takes the text the tool returns in the dry run.");
                }
                else if (Child(map, "tools") is { } notMap) errors.Add($"line {notMap.Start.Line}: 'tools' maps a tool's name to the result it returns in the dry run.");

        Agents.Personality? personality = null;
        if (Child(map, "personality") is YamlMappingNode personalityMap)
        {
            try
            {
                personality = ToJson(personalityMap, errors)?.Deserialize<Agents.Personality>(StrictJson);
            }
            catch (JsonException e)
            {
                errors.Add($"line {personalityMap.Start.Line}: personality: {e.Message}");
            }
        }
        var userId = Scalar(map, "userId", errors);
        if (userId is { Length: > 64 }) errors.Add($"line {Line(map)}: userId is at most 64 characters.");
        return new EvalCase(id, Scalar(map, "description", errors), Scalar(map, "agent", errors), userId, memories, personality, tools, turns);
    }

    static EvalTurn? ReadTurn(YamlNode node, string caseId, List<string> errors)
    {
        if (node is not YamlMappingNode map || Scalar(map, "user", errors) is not { Length: > 0 } user)
        {
            errors.Add($"line {node.Start.Line}: each turn of case '{caseId}' needs a 'user' message.");
            return null;
        }
        Keys(map, TurnKeys, "turn", errors);
        var expectations = new List<Expectation>();
        if (Child(map, "expect") is YamlMappingNode expect)
        {
            foreach (var (keyNode, value) in expect.Children)
            {
                if (KeyOf(keyNode, errors) is not { } kind) continue;
                var line = keyNode.Start.Line;
                if (!ExpectationKinds.All.Contains(kind))
                {
                    errors.Add($"line {line}: '{kind}' is not an expectation; use one of {string.Join(", ", ExpectationKinds.All)}.");
                    continue;
                }
                expectations.AddRange(ReadExpectation(kind, value, line, errors));
            }
        }
        else if (Child(map, "expect") is { } notMap) errors.Add($"line {notMap.Start.Line}: 'expect' maps expectations (agent, tool, contains…) to what they check.");
        return new EvalTurn(user, expectations, (int)node.Start.Line);
    }

    static IEnumerable<Expectation> ReadExpectation(string kind, YamlNode value, long line, List<string> errors)
    {
        var at = (int)line;
        IEnumerable<YamlNode> Items() => value is YamlSequenceNode list ? list.Children : [value];
        string? Text(YamlNode node)
        {
            if (node is YamlScalarNode { Value: { Length: > 0 } text }) return text;
            errors.Add($"line {node.Start.Line}: {kind} takes text here.");
            return null;
        }
        switch (kind)
        {
            case ExpectationKinds.Agent or ExpectationKinds.Says or ExpectationKinds.Language:
                if (Text(value) is { } single) yield return new Expectation(kind, $"{kind}: {single}", single, at);
                break;
            case ExpectationKinds.Contains or ExpectationKinds.NotContains or ExpectationKinds.NoTool:
                foreach (var item in Items())
                    if (Text(item) is { } text) yield return new Expectation(kind, $"{kind}: {text}", text, at);
                break;
            case ExpectationKinds.Matches:
                if (Text(value) is { } pattern)
                {
                    if (!IsRegex(pattern)) errors.Add($"line {at}: matches: '{pattern}' is not a regular expression.");
                    else yield return new Expectation(kind, $"matches: /{pattern}/", pattern, at);
                }
                break;
            case ExpectationKinds.Approval:
                if (Text(value) is { } state)
                {
                    if (state is not ("pending" or "none")) errors.Add($"line {at}: approval is 'pending' (a call waits for a person) or 'none'.");
                    else yield return new Expectation(kind, $"approval: {state}", state, at);
                }
                break;
            case ExpectationKinds.Handoff:
                foreach (var item in Items())
                {
                    if (Text(item) is not { } text) continue;
                    var parts = text.Split(["->", "→"], StringSplitOptions.TrimEntries);
                    if (parts.Length is < 1 or > 2 || parts.Any(p => p.Length == 0)) errors.Add($"line {item.Start.Line}: handoff is 'from->to' (or just 'to').");
                    else yield return new Expectation(kind, $"handoff: {text}", parts.Length == 2 ? (parts[0], parts[1]) : ((string?)null, parts[0]), at);
                }
                break;
            case ExpectationKinds.Workflow:
                var steps = Strings(value, kind, errors);
                if (steps.Count > 0) yield return new Expectation(kind, $"workflow: {string.Join(" → ", steps)}", steps, at);
                break;
            case ExpectationKinds.MaxTokens or ExpectationKinds.LatencyMs or ExpectationKinds.Tokens or ExpectationKinds.CostUsd:
                if (value is YamlScalarNode { Value: { } number } && double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out var limit) && limit >= 0)
                    yield return new Expectation(kind, $"{kind} ≤ {number}", limit, at);
                else errors.Add($"line {at}: {kind} takes a number (the most allowed).");
                break;
            case ExpectationKinds.Tool:
                foreach (var item in Items())
                    if (ReadTool(item, errors) is { } tool)
                        yield return new Expectation(kind, tool.Arguments.Count == 0 ? $"tool: {tool.Name}"
                            : $"tool: {tool.Name}({string.Join(", ", tool.Arguments.Select(a => $"{a.Key} {a.Value}"))})", tool, at);
                break;
            case ExpectationKinds.Rule:
                foreach (var item in Items())
                {
                    if (item is YamlMappingNode ruleMap && Scalar(ruleMap, "id", errors) is { } ruleId)
                    {
                        var action = Scalar(ruleMap, "action", errors);
                        yield return new Expectation(kind, action is null ? $"rule: {ruleId}" : $"rule: {ruleId} ({action})", new RuleExpectation(ruleId, action), at);
                    }
                    else if (Text(item) is { } ruleText) yield return new Expectation(kind, $"rule: {ruleText}", new RuleExpectation(ruleText, null), at);
                }
                break;
            case ExpectationKinds.Cites:
                foreach (var item in Items())
                {
                    if (item is YamlMappingNode citeMap && Scalar(citeMap, "doc", errors) is { } doc)
                        yield return new Expectation(kind, $"cites: {doc}", new CiteExpectation(doc, Scalar(citeMap, "section", errors)), at);
                    else if (Text(item) is { } docText) yield return new Expectation(kind, $"cites: {docText}", new CiteExpectation(docText, null), at);
                }
                break;
            case ExpectationKinds.Judge:
                var rubric = value is YamlMappingNode judgeMap ? Scalar(judgeMap, "rubric", errors) : (value as YamlScalarNode)?.Value;
                var threshold = value is YamlMappingNode withThreshold && Scalar(withThreshold, "threshold", errors) is { } t ? int.TryParse(t, out var n) ? n : -1 : 4;
                if (string.IsNullOrWhiteSpace(rubric)) errors.Add($"line {at}: judge takes a rubric in plain words (or rubric and threshold).");
                else if (threshold is < 1 or > 5) errors.Add($"line {at}: judge's threshold is a score from 1 to 5.");
                else yield return new Expectation(kind, $"judge: {Shorten(rubric)}", new JudgeExpectation(rubric, threshold), at);
                break;
            case ExpectationKinds.Grounded:
                var groundedThreshold = value is YamlMappingNode g && Scalar(g, "threshold", errors) is { } gt ? int.TryParse(gt, out var gn) ? gn : -1
                    : value is YamlScalarNode { Value: "true" } ? 4 : -1;
                if (groundedThreshold is < 1 or > 5) errors.Add($"line {at}: grounded is 'true' or has a threshold from 1 to 5.");
                else yield return new Expectation(kind, "grounded in the retrieved passages", groundedThreshold, at);
                break;
        }
    }

    static ToolExpectation? ReadTool(YamlNode node, List<string> errors)
    {
        if (node is YamlScalarNode { Value: { Length: > 0 } name }) return new ToolExpectation(name, new Dictionary<string, ArgumentMatcher>());
        if (node is not YamlMappingNode map || Scalar(map, "name", errors) is not { } toolName)
        {
            errors.Add($"line {node.Start.Line}: tool is a name, or a mapping with 'name' and 'args'.");
            return null;
        }
        var arguments = new Dictionary<string, ArgumentMatcher>(StringComparer.Ordinal);
        if (Child(map, "args") is YamlMappingNode args)
        {
            foreach (var (keyNode, value) in args.Children)
            {
                if (KeyOf(keyNode, errors) is not { } argument) continue;
                if (value is YamlScalarNode scalar) arguments[argument] = new ArgumentMatcher("eq", scalar.Value ?? "");
                else if (value is YamlMappingNode { Children.Count: 1 } matcher && matcher.Children.First() is var (opNode, operand)
                         && opNode is YamlScalarNode { Value: { } op } && ArgumentMatcher.Operators.Contains(op) && operand is YamlScalarNode { Value: { } operandText })
                {
                    if (op == "matches" && !IsRegex(operandText)) errors.Add($"line {operand.Start.Line}: '{operandText}' is not a regular expression.");
                    arguments[argument] = new ArgumentMatcher(op, operandText);
                }
                else errors.Add($"line {value.Start.Line}: argument '{argument}' takes a value or one of {{{string.Join(", ", ArgumentMatcher.Operators)}}}: value.");
            }
        }
        return new ToolExpectation(toolName, arguments);
    }

    static void Keys(YamlMappingNode map, string[] known, string what, List<string> errors)
    {
        foreach (var key in map.Children.Keys)
            if (KeyOf(key, errors) is { } name && !known.Contains(name))
                errors.Add($"line {key.Start.Line}: '{name}' is not a field of a {what}; use {string.Join(", ", known)}.");
    }

    /// <summary>A mapping key as text; a key that is a list or a mapping is an error at its line (and null).</summary>
    static string? KeyOf(YamlNode key, List<string> errors)
    {
        if (key is YamlScalarNode { Value: { } text }) return text;
        errors.Add($"line {key.Start.Line}: a key must be plain text.");
        return null;
    }

    /// <summary>A mapping of text and lists of text as JSON (for the personality, whose shape the API's binder checks).</summary>
    static System.Text.Json.Nodes.JsonObject? ToJson(YamlMappingNode map, List<string> errors)
    {
        var json = new System.Text.Json.Nodes.JsonObject();
        foreach (var (keyNode, value) in map.Children)
        {
            if (KeyOf(keyNode, errors) is not { } key) return null;
            if (json.ContainsKey(key))
            {
                errors.Add($"line {keyNode.Start.Line}: '{key}' is given twice.");
                return null;
            }
            json[key] = value switch
            {
                YamlScalarNode scalar => scalar.Value,
                YamlSequenceNode list when list.Children.All(c => c is YamlScalarNode) =>
                    new System.Text.Json.Nodes.JsonArray(list.Children.Select(c => (System.Text.Json.Nodes.JsonNode?)((YamlScalarNode)c).Value).ToArray()),
                YamlMappingNode inner => ToJson(inner, errors),
                _ => null,
            };
        }
        return json;
    }

    static YamlNode? Child(YamlMappingNode map, string key) =>
        map.Children.FirstOrDefault(p => p.Key is YamlScalarNode { Value: var k } && k == key).Value;

    static string? Scalar(YamlMappingNode map, string key, List<string> errors)
    {
        var node = Child(map, key);
        if (node is null) return null;
        if (node is YamlScalarNode scalar) return scalar.Value;
        errors.Add($"line {node.Start.Line}: '{key}' takes text.");
        return null;
    }

    static List<string> Strings(YamlNode? node, string key, List<string> errors)
    {
        if (node is null) return [];
        if (node is YamlSequenceNode list && list.Children.All(c => c is YamlScalarNode)) return list.Children.Select(c => ((YamlScalarNode)c).Value ?? "").ToList();
        errors.Add($"line {node.Start.Line}: '{key}' is a list of text.");
        return [];
    }

    static int Line(YamlNode node) => (int)node.Start.Line;

    static bool IsSlug(string id) => Slug().IsMatch(id);

    static bool IsRegex(string pattern)
    {
        try
        {
            _ = new Regex(pattern, RegexOptions.None, TimeSpan.FromSeconds(1));
            return true;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    static string Shorten(string text) => text.Length <= 60 ? text : text[..57] + "...";

    [GeneratedRegex("^[a-z0-9][a-z0-9-]{0,63}$")]
    private static partial Regex Slug();
}
