using System.Text.RegularExpressions;

namespace Agentry.Evals;

/// <summary>
/// A suite of eval cases: a YAML file in the evals folder (next to the agent files) or one created through the API.
/// Each case is a short conversation script whose turns carry expectations.
/// </summary>
public sealed record EvalSuite(string Id, string? Description, string? Agent, IReadOnlyList<EvalCase> Cases, string Source)
{
    public const string FromApi = "api";
}

/// <param name="Agent">Where the conversation starts (the suite's agent, else the default agent).</param>
/// <param name="UserId">The user the case plays; the run gives it an isolated id, so memories and data of a real user are never touched.</param>
/// <param name="Memories">Facts remembered about the user before the case starts.</param>
/// <param name="Personality">Personality overrides the conversation starts with, within what the agent allows.</param>
/// <param name="ToolResults">What a tool with side effects returns in the dry run, by tool name (a standard note otherwise).</param>
public sealed record EvalCase(
    string Id, string? Description, string? Agent, string? UserId, IReadOnlyList<string> Memories, Agents.Personality? Personality,
    IReadOnlyDictionary<string, string> ToolResults, IReadOnlyList<EvalTurn> Turns);

public sealed record EvalTurn(string User, IReadOnlyList<Expectation> Expect, int Line);

/// <summary>One expectation of a turn: its kind (the YAML key), how a report names it, what it checks, and where it was written.</summary>
public sealed record Expectation(string Kind, string Label, object Spec, int Line)
{
    /// <summary>Judged by a model (a rubric, groundedness): skipped, not passed, when no judge model is configured.</summary>
    public bool IsJudged => Kind is ExpectationKinds.Judge or ExpectationKinds.Grounded;
}

public static class ExpectationKinds
{
    public const string Agent = "agent";
    public const string Handoff = "handoff";
    public const string Workflow = "workflow";
    public const string Tool = "tool";
    public const string NoTool = "noTool";
    public const string Approval = "approval";
    public const string Rule = "rule";
    public const string Contains = "contains";
    public const string NotContains = "notContains";
    public const string Matches = "matches";
    public const string Language = "language";
    public const string MaxTokens = "maxTokens";
    public const string Cites = "cites";
    public const string Says = "says";
    public const string LatencyMs = "latencyMs";
    public const string CostUsd = "costUsd";
    public const string Tokens = "tokens";
    public const string Judge = "judge";
    public const string Grounded = "grounded";

    public static readonly string[] All =
        [Agent, Handoff, Workflow, Tool, NoTool, Approval, Rule, Contains, NotContains, Matches, Language, MaxTokens, Cites, Says, LatencyMs, CostUsd, Tokens, Judge, Grounded];
}

/// <summary>A tool the turn must have called, with matchers for the arguments it was called with.</summary>
public sealed record ToolExpectation(string Name, IReadOnlyDictionary<string, ArgumentMatcher> Arguments);

/// <summary>A rule that must have decided, optionally with the action it took (block, redact, escalate, require-approval…).</summary>
public sealed record RuleExpectation(string Id, string? Action);

public sealed record CiteExpectation(string Document, string? Section);

/// <summary>A rubric in plain words, scored 1-5 by the judge model; at least <see cref="Threshold"/> passes.</summary>
public sealed record JudgeExpectation(string Rubric, int Threshold);

/// <summary>How a value must compare: <c>eq</c>, <c>ne</c>, <c>lt</c>, <c>lte</c>, <c>gt</c>, <c>gte</c>, <c>contains</c>, <c>matches</c>, <c>exists</c>.</summary>
public sealed record ArgumentMatcher(string Operator, string Operand)
{
    public static readonly string[] Operators = ["eq", "ne", "lt", "lte", "gt", "gte", "contains", "matches", "exists"];

    public override string ToString() => Operator == "eq" ? Operand : $"{Operator} {Operand}";

    /// <summary>Whether <paramref name="actual"/> (the argument as the tool received it, JSON text or null when absent) satisfies this.</summary>
    public bool IsMetBy(string? actual)
    {
        if (Operator == "exists") return (actual is not null) == !Operand.Equals("false", StringComparison.OrdinalIgnoreCase);
        if (actual is null) return false;
        if (Operator is "lt" or "lte" or "gt" or "gte" || (Operator is "eq" or "ne" && IsNumber(Operand) && IsNumber(actual)))
        {
            if (!IsNumber(actual) || !IsNumber(Operand)) return false;
            var (a, b) = (decimal.Parse(actual, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture),
                decimal.Parse(Operand, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture));
            return Operator switch { "lt" => a < b, "lte" => a <= b, "gt" => a > b, "gte" => a >= b, "eq" => a == b, _ => a != b };
        }
        return Operator switch
        {
            "eq" => actual.Equals(Operand, StringComparison.OrdinalIgnoreCase),
            "ne" => !actual.Equals(Operand, StringComparison.OrdinalIgnoreCase),
            "contains" => actual.Contains(Operand, StringComparison.OrdinalIgnoreCase),
            "matches" => Regex.IsMatch(actual, Operand, RegexOptions.IgnoreCase, TimeSpan.FromSeconds(1)),
            _ => false,
        };
    }

    static bool IsNumber(string text) =>
        decimal.TryParse(text, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out _);
}
