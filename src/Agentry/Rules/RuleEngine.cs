using System.Globalization;
using System.Numerics.Tensors;
using System.Text.Json;
using System.Text.RegularExpressions;
using Agentry.Api;
using Agentry.Models;
using Microsoft.Extensions.AI;

namespace Agentry.Rules;

/// <summary>What the input or output stage decided about a text.</summary>
public sealed record TextVerdict(string Text, IReadOnlyList<RuleDecision> Decisions, AgentRule? Blocked, AgentRule? Escalation);

/// <summary>What the tool stage decided about a call.</summary>
public sealed record ToolVerdict(IReadOnlyList<RuleDecision> Decisions, AgentRule? Denied, AgentRule? NeedsApproval);

/// <summary>
/// The one small engine that enforces declarative rules at three points of a turn. Rules are checked in order;
/// redactions and rewrites feed the next rule, the first block (or deny) wins, and every rule that fires is reported.
/// </summary>
public sealed partial class RuleEngine(IEmbeddingGenerator<string, Embedding<float>> embeddings)
{
    static readonly TimeSpan RegexTimeout = TimeSpan.FromMilliseconds(200);

    public async Task<TextVerdict> CheckTextAsync(string stage, IEnumerable<AgentRule> rules, string text, CancellationToken cancellationToken)
    {
        var decisions = new List<RuleDecision>();
        AgentRule? blocked = null, escalation = null;
        foreach (var rule in rules.Where(r => r.Stage == stage))
        {
            var matches = await MatchAsync(rule.When, text, cancellationToken);
            if (matches is null) continue;
            switch (rule.Action)
            {
                case RuleActions.Block:
                    blocked ??= rule;
                    decisions.Add(new RuleDecision(rule.Id, stage, rule.Action, matches.Reason));
                    break;
                case RuleActions.Redact:
                    text = Replace(text, matches, m => $"[redacted {m.Kind}]");
                    decisions.Add(new RuleDecision(rule.Id, stage, rule.Action, $"{matches.Spans.Count} span(s): {matches.Reason}"));
                    break;
                case RuleActions.Rewrite:
                    text = matches.Spans.Count > 0 ? Replace(text, matches, _ => rule.Text!) : rule.Text!;
                    decisions.Add(new RuleDecision(rule.Id, stage, rule.Action, matches.Reason));
                    break;
                case RuleActions.Append:
                    text = text.TrimEnd() + "\n\n" + rule.Text;
                    decisions.Add(new RuleDecision(rule.Id, stage, rule.Action, matches.Reason));
                    break;
                case RuleActions.Escalate:
                    escalation ??= rule;
                    decisions.Add(new RuleDecision(rule.Id, stage, rule.Action, $"to {rule.EscalateTo}: {matches.Reason}"));
                    break;
                default:
                    decisions.Add(new RuleDecision(rule.Id, stage, RuleActions.Flag, matches.Reason));
                    break;
            }
        }
        return new TextVerdict(text, decisions, blocked, escalation);
    }

    public ToolVerdict CheckTool(IEnumerable<AgentRule> rules, string toolName, IDictionary<string, object?>? arguments)
    {
        var decisions = new List<RuleDecision>();
        AgentRule? denied = null, approval = null;
        foreach (var rule in rules.Where(r => r.Stage == RuleStages.Tool))
        {
            if (rule.When.Tool is { } tool && tool != "*" && tool != toolName) continue;
            var detail = $"tool {toolName}";
            if (rule.When.Condition is { } condition)
            {
                if (!Condition.Parse(condition).Holds(arguments)) continue;
                detail += $" where {condition}";
            }
            decisions.Add(new RuleDecision(rule.Id, RuleStages.Tool, rule.Action!, detail));
            if (rule.Action == RuleActions.Deny) denied ??= rule;
            else if (rule.Action == RuleActions.RequireApproval) approval ??= rule;
        }
        return new ToolVerdict(decisions, denied, approval);
    }

    sealed record Span(int Start, int Length, string Kind);

    sealed record MatchResult(List<Span> Spans, string Reason);

    /// <summary>Null when the rule does not fire; otherwise what fired and where (spans to redact or rewrite).</summary>
    async Task<MatchResult?> MatchAsync(RuleMatch when, string text, CancellationToken cancellationToken)
    {
        var spans = new List<Span>();
        var reasons = new List<string>();

        if (when.Keywords.Count > 0)
        {
            var found = false;
            foreach (var keyword in when.Keywords)
                for (var i = text.IndexOf(keyword, StringComparison.OrdinalIgnoreCase); i >= 0; i = text.IndexOf(keyword, i + keyword.Length, StringComparison.OrdinalIgnoreCase))
                {
                    spans.Add(new Span(i, keyword.Length, "phrase"));
                    found = true;
                }
            if (!found) return null;
            reasons.Add("keyword");
        }
        if (when.Regex is { } pattern)
        {
            var regexMatches = new Regex(pattern, RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, RegexTimeout).Matches(text);
            if (regexMatches.Count == 0) return null;
            spans.AddRange(regexMatches.Select(m => new Span(m.Index, m.Length, "text")));
            reasons.Add("pattern");
        }
        if (when.Pii.Count > 0)
        {
            var pii = Pii.Find(text, when.Pii);
            if (pii.Count == 0) return null;
            spans.AddRange(pii.Select(p => new Span(p.Start, p.Length, p.Kind)));
            reasons.Add($"pii: {string.Join(", ", pii.Select(p => p.Kind).Distinct())}");
        }
        if (when.Injection)
        {
            var injection = InjectionPattern().Match(text);
            if (!injection.Success) return null;
            spans.Add(new Span(injection.Index, injection.Length, "instruction"));
            reasons.Add("prompt injection");
        }
        if (when.MaxLength is { } max)
        {
            if (text.Length <= max) return null;
            reasons.Add($"longer than {max} characters");
        }
        if (when.NotFormat == "json")
        {
            if (IsJson(text)) return null;
            reasons.Add("not valid JSON");
        }
        if (when.SimilarTo.Count > 0)
        {
            var vectors = await embeddings.GenerateAsync([text, .. when.SimilarTo], cancellationToken: cancellationToken);
            var best = vectors.Skip(1).Max(v => TensorPrimitives.CosineSimilarity(vectors[0].Vector.Span, v.Vector.Span));
            if (best < when.Threshold) return null;
            reasons.Add($"similar topic ({best.ToString("0.00", CultureInfo.InvariantCulture)})");
        }
        return new MatchResult(spans, reasons.Count == 0 ? "always" : string.Join("; ", reasons));
    }

    static string Replace(string text, MatchResult matches, Func<Span, string> replacement)
    {
        // Right to left, skipping overlaps, so earlier offsets stay valid.
        var result = text;
        var lastStart = int.MaxValue;
        foreach (var span in matches.Spans.OrderByDescending(s => s.Start))
        {
            if (span.Start + span.Length > lastStart) continue;
            result = string.Concat(result.AsSpan(0, span.Start), replacement(span), result.AsSpan(span.Start + span.Length));
            lastStart = span.Start;
        }
        return result;
    }

    static bool IsJson(string text)
    {
        try
        {
            using var _ = JsonDocument.Parse(text);
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    [GeneratedRegex(@"ignore (all |any )?(the )?(previous|prior|above) (instructions|rules|prompts?)|disregard (all |the )?(previous|prior|above|your) (instructions|rules)|you are now (in )?(dan|developer mode|jailbroken)|reveal (your|the) (system )?(prompt|instructions)|print (your|the) system prompt|act as (an? )?unrestricted|jailbreak", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, 200)]
    private static partial Regex InjectionPattern();

    /// <summary>Checks a rule's <c>when</c> block at load time, so a rule that cannot work stops the agent from loading.</summary>
    public static void ValidateMatch(RuleMatch when, string stage, string? action, ValidationErrors errors, string path)
    {
        if (when.Regex is { } pattern)
        {
            try { _ = new Regex(pattern, RegexOptions.None, RegexTimeout); }
            catch (ArgumentException e) { errors.Add($"{path}.regex", $"Not a valid regular expression: {e.Message}"); }
        }
        foreach (var kind in when.Pii)
            if (!Pii.Kinds.Contains(kind)) errors.Add($"{path}.pii", $"Unknown detector '{kind}'; use {string.Join(", ", Pii.Kinds)}.");
        if (when.NotFormat is { } format && format != "json") errors.Add($"{path}.notFormat", "Only 'json' is supported.");
        if (when.Threshold is <= 0 or > 1) errors.Add($"{path}.threshold", "Must be in (0, 1].");
        if (when.SimilarTo.Count > 50) errors.Add($"{path}.similarTo", "At most 50 examples.");
        if (stage == RuleStages.Tool)
        {
            if (when.Condition is { } condition && !Condition.TryParse(condition, out _, out var problem)) errors.Add($"{path}.condition", problem);
        }
        else if (when.Tool is not null || when.Condition is not null)
        {
            errors.Add($"{path}", "tool and condition apply only to stage: tool.");
        }
        if ((action is RuleActions.Redact) && when.Keywords.Count == 0 && when.Regex is null && when.Pii.Count == 0 && !when.Injection)
            errors.Add($"{path}", "A redact rule needs keywords, regex, pii or injection to know what to remove.");
    }
}

/// <summary>A comparison on one tool argument: <c>NAME OP VALUE</c>, OP one of &lt; &lt;= &gt; &gt;= == !=, VALUE a number or a quoted string.</summary>
public sealed partial record Condition(string Argument, string Operator, string Value)
{
    public static Condition Parse(string text) => TryParse(text, out var c, out var problem) ? c : throw new FormatException(problem);

    public static bool TryParse(string text, out Condition condition, out string problem)
    {
        condition = new Condition("", "", "");
        var match = Pattern().Match(text ?? "");
        if (!match.Success)
        {
            problem = $"'{text}' is not 'argument op value' (ops: < <= > >= == !=; value a number or a quoted string).";
            return false;
        }
        condition = new Condition(match.Groups["arg"].Value, match.Groups["op"].Value, match.Groups["value"].Value.Trim('"'));
        problem = "";
        return true;
    }

    /// <summary>True when the argument is present and the comparison holds (a missing argument never matches).</summary>
    public bool Holds(IDictionary<string, object?>? arguments)
    {
        if (arguments is null || !arguments.TryGetValue(Argument, out var raw) || raw is null) return false;
        var actual = raw is JsonElement e ? (e.ValueKind == JsonValueKind.String ? e.GetString()! : e.GetRawText()) : Convert.ToString(raw, CultureInfo.InvariantCulture)!;
        if (double.TryParse(actual, NumberStyles.Float, CultureInfo.InvariantCulture, out var number) &&
            double.TryParse(Value, NumberStyles.Float, CultureInfo.InvariantCulture, out var limit))
        {
            return Operator switch
            {
                "<" => number < limit,
                "<=" => number <= limit,
                ">" => number > limit,
                ">=" => number >= limit,
                "==" => number == limit,
                "!=" => number != limit,
                _ => false,
            };
        }
        return Operator switch
        {
            "==" => string.Equals(actual, Value, StringComparison.OrdinalIgnoreCase),
            "!=" => !string.Equals(actual, Value, StringComparison.OrdinalIgnoreCase),
            _ => false,
        };
    }

    [GeneratedRegex("""^\s*(?<arg>[A-Za-z_][A-Za-z0-9_]*)\s*(?<op><=|>=|==|!=|<|>)\s*(?<value>-?\d+(\.\d+)?|"[^"]*")\s*$""")]
    private static partial Regex Pattern();
}
