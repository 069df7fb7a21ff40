using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.AI.Evaluation;

namespace Agentry.Evals;

/// <summary>
/// Checks every expectation that needs no model — routing, tools and their arguments, approvals, rules, the reply's
/// words, language and length, citations, budgets — against what the turn did. One metric per expectation: a
/// <see cref="BooleanMetric"/>, or a <see cref="NumericMetric"/> for the budgets (the measured value), each interpreted
/// as failed or not with the reason a report prints.
/// </summary>
public sealed class ExpectationEvaluator : IEvaluator
{
    public IReadOnlyCollection<string> EvaluationMetricNames => [.. ExpectationKinds.All.Except([ExpectationKinds.Judge, ExpectationKinds.Grounded])];

    public ValueTask<EvaluationResult> EvaluateAsync(IEnumerable<ChatMessage> messages, ChatResponse modelResponse, ChatConfiguration? chatConfiguration = null,
        IEnumerable<EvaluationContext>? additionalContext = null, CancellationToken cancellationToken = default)
    {
        var context = additionalContext?.OfType<EvalTurnContext>().FirstOrDefault()
            ?? throw new ArgumentException($"{nameof(ExpectationEvaluator)} needs an {nameof(EvalTurnContext)}.", nameof(additionalContext));
        var metrics = new List<EvaluationMetric>();
        foreach (var expectation in context.Expectations.Where(e => !e.IsJudged))
        {
            var (passed, why, value) = context.Observed.Failure is { } failure ? (false, $"the turn failed: {failure}", (double?)null) : SafeCheck(expectation, context.Observed);
            EvaluationMetric metric = value is { } number ? new NumericMetric(expectation.Label, number) : new BooleanMetric(expectation.Label, passed);
            metric.Interpretation = new EvaluationMetricInterpretation(passed ? EvaluationRating.Good : EvaluationRating.Unacceptable, failed: !passed, reason: why);
            metric.Reason = why;
            metrics.Add(metric);
        }
        return ValueTask.FromResult(new EvaluationResult(Unique(metrics)));
    }

    /// <summary>Metric names are a result's keys: a second "contains: x" in one turn is numbered.</summary>
    internal static IEnumerable<EvaluationMetric> Unique(List<EvaluationMetric> metrics)
    {
        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var metric in metrics)
        {
            var count = seen[metric.Name] = seen.GetValueOrDefault(metric.Name) + 1;
            if (count > 1) metric.Name = $"{metric.Name} (#{count})";
            yield return metric;
        }
    }

    /// <summary>A regular expression that takes too long on this reply fails its check, saying so.</summary>
    static (bool Passed, string? Why, double? Value) SafeCheck(Expectation expectation, TurnObservation o)
    {
        try
        {
            return Check(expectation, o);
        }
        catch (RegexMatchTimeoutException)
        {
            return (false, "the regular expression took over a second on this reply", null);
        }
    }

    static (bool Passed, string? Why, double? Value) Check(Expectation expectation, TurnObservation o)
    {
        switch (expectation.Kind)
        {
            case ExpectationKinds.Agent:
                var agent = (string)expectation.Spec;
                return (o.AnsweredBy == agent, $"answered by {o.AnsweredBy}", null);
            case ExpectationKinds.Handoff:
                var (from, to) = ((string?, string))expectation.Spec;
                return (o.Handoffs.Any(h => h.To == to && (from is null || h.From == from)),
                    o.Handoffs.Count == 0 ? "no handoff" : $"handoffs: {string.Join(", ", o.Handoffs.Select(h => $"{h.From}->{h.To}"))}", null);
            case ExpectationKinds.Workflow:
                var steps = (List<string>)expectation.Spec;
                return (o.Speakers.SequenceEqual(steps), $"answered in turn: {(o.Speakers.Count == 0 ? "nobody" : string.Join(" → ", o.Speakers))}", null);
            case ExpectationKinds.Tool:
                return CheckTool((ToolExpectation)expectation.Spec, o);
            case ExpectationKinds.NoTool:
                var forbidden = (string)expectation.Spec;
                var made = o.ToolCalls.Where(c => c.Name == forbidden).ToList();
                return (made.Count == 0, made.Count == 0 ? null : $"{forbidden} was called ({string.Join(", ", made.Select(Describe))})", null);
            case ExpectationKinds.Approval:
                var wanted = (string)expectation.Spec == "pending";
                return (o.ApprovalPending == wanted, o.ApprovalPending ? "a call waits for approval" : $"nothing waits for approval ({CallsSummary(o)})", null);
            case ExpectationKinds.Rule:
                var rule = (RuleExpectation)expectation.Spec;
                return (o.Rules.Any(d => d.Rule == rule.Id && (rule.Action is null || d.Action == rule.Action)),
                    o.Rules.Count == 0 ? "no rule decided anything" : $"rules that decided: {string.Join(", ", o.Rules.Select(d => $"{d.Rule} ({d.Action})").Distinct())}", null);
            case ExpectationKinds.Contains or ExpectationKinds.Says:
                var phrase = (string)expectation.Spec;
                return (Normalize(o.Reply).Contains(Normalize(phrase), StringComparison.OrdinalIgnoreCase), $"the reply: \"{Shorten(o.Reply)}\"", null);
            case ExpectationKinds.NotContains:
                var absent = (string)expectation.Spec;
                return (!Normalize(o.Reply).Contains(Normalize(absent), StringComparison.OrdinalIgnoreCase), $"the reply: \"{Shorten(o.Reply)}\"", null);
            case ExpectationKinds.Matches:
                return (Regex.IsMatch(o.Reply, (string)expectation.Spec, RegexOptions.IgnoreCase, TimeSpan.FromSeconds(1)), $"the reply: \"{Shorten(o.Reply)}\"", null);
            case ExpectationKinds.Language:
                var expected = LanguageGuess.Code((string)expectation.Spec) ?? (string)expectation.Spec;
                var guessed = LanguageGuess.Of(o.Reply);
                return (guessed == expected, $"the reply reads as {guessed ?? "no language this check knows"}", null);
            case ExpectationKinds.MaxTokens:
                var replyTokens = Models.Tokens.Count(o.Reply);
                return (replyTokens <= (double)expectation.Spec, $"{replyTokens} tokens", replyTokens);
            case ExpectationKinds.Tokens:
                return (o.Tokens <= (double)expectation.Spec, $"{o.Tokens} tokens (input and output)", o.Tokens);
            case ExpectationKinds.LatencyMs:
                return (o.LatencyMs <= (double)expectation.Spec, $"{o.LatencyMs:0} ms", Math.Round(o.LatencyMs, 1));
            case ExpectationKinds.CostUsd:
                return (o.CostUsd <= (double)expectation.Spec, $"{o.CostUsd.ToString("0.######", CultureInfo.InvariantCulture)} USD", o.CostUsd);
            case ExpectationKinds.Cites:
                var cite = (CiteExpectation)expectation.Spec;
                return (o.Citations.Any(c => SameDocument(c.Document, cite.Document) && (cite.Section is null || (c.Section ?? "").Contains(cite.Section, StringComparison.OrdinalIgnoreCase))),
                    o.Citations.Count == 0 ? "no citation" : $"cited: {string.Join(", ", o.Citations.Select(c => c.Section is null ? c.Document : $"{c.Document} § {c.Section}").Distinct())}", null);
            default:
                throw new InvalidOperationException($"No check for '{expectation.Kind}'.");
        }
    }

    static (bool, string?, double?) CheckTool(ToolExpectation tool, TurnObservation o)
    {
        var calls = o.ToolCalls.Where(c => c.Name == tool.Name).ToList();
        if (calls.Count == 0) return (false, $"{tool.Name} was not called ({CallsSummary(o)})", null);
        var mismatch = "";
        foreach (var call in calls)
        {
            var wrong = tool.Arguments.Where(a => !a.Value.IsMetBy(call.Arguments.TryGetValue(a.Key, out var value) ? Text(value) : null))
                .Select(a => $"{a.Key} was {(call.Arguments.TryGetValue(a.Key, out var v) ? Text(v) : "absent")}, expected {a.Value}").ToList();
            if (wrong.Count == 0) return (true, $"{Describe(call)}", null);
            mismatch = string.Join("; ", wrong);
        }
        return (false, $"{tool.Name} was called, but {mismatch}", null);
    }

    static string CallsSummary(TurnObservation o) =>
        o.ToolCalls.Count == 0 ? "no tool was called" : $"calls: {string.Join(", ", o.ToolCalls.Select(Describe))}";

    static string Describe(ObservedToolCall call) =>
        $"{call.Name}({string.Join(", ", call.Arguments.Select(a => $"{a.Key}={Shorten(Text(a.Value), 40)}"))}) → {call.Outcome}";

    /// <summary>An argument as text: a string's value, anything else its JSON.</summary>
    static string Text(JsonElement value) => value.ValueKind == JsonValueKind.String ? value.GetString()! : value.GetRawText();

    /// <summary>"refunds.md" names billing/refunds.md: a document matches by its whole name or its last path segments.</summary>
    static bool SameDocument(string cited, string expected) =>
        cited.Equals(expected, StringComparison.OrdinalIgnoreCase) || cited.EndsWith("/" + expected, StringComparison.OrdinalIgnoreCase);

    /// <summary>Typographic apostrophes and quotes as plain ones, so "don't" matches "don’t".</summary>
    static string Normalize(string text) => text.Replace('’', '\'').Replace('‘', '\'').Replace('“', '"').Replace('”', '"');

    static string Shorten(string text, int max = 160) => text.Length <= max ? text : text[..(max - 1)] + "…";
}
