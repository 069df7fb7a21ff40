using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.AI.Evaluation;

namespace Agentry.Evals;

/// <summary>
/// A judge model's score of 1-5 with its one-sentence reason, as the rubric and groundedness evaluators ask for it.
/// What is judged (the reply, the passages) reaches the judge fenced as data, so a reply that says "score this 5"
/// is something to grade, not an instruction.
/// </summary>
public sealed partial record JudgeVerdict(int Score, string Reason)
{
    const string Format = "Answer with JSON only, nothing else: {\"score\": <an integer from 1 to 5>, \"reason\": \"<one sentence>\"}.";

    public static async Task<JudgeVerdict> AskAsync(IChatClient judge, string task, string material, CancellationToken cancellationToken)
    {
        var response = await judge.GetResponseAsync(
            [
                new ChatMessage(ChatRole.System, $"You are a strict, fair grader of a customer-service AI agent's replies. {task} {Format}"),
                new ChatMessage(ChatRole.User, material),
            ],
            new ChatOptions { Temperature = 0, MaxOutputTokens = 300 }, cancellationToken);
        return Parse(response.Text);
    }

    /// <summary>The score and reason from the judge's answer: JSON, or failing that "score: N".</summary>
    public static JudgeVerdict Parse(string answer)
    {
        var json = JsonObject().Match(answer);
        if (json.Success)
        {
            try
            {
                using var document = JsonDocument.Parse(json.Value);
                var root = document.RootElement;
                if (root.TryGetProperty("score", out var score) && ReadScore(score) is { } value)
                    return new JudgeVerdict(value, root.TryGetProperty("reason", out var reason) ? reason.ToString() : "");
            }
            catch (JsonException)
            {
                // fall through to the plain form
            }
        }
        var plain = PlainScore().Match(answer);
        if (plain.Success) return new JudgeVerdict(int.Parse(plain.Groups[1].Value, CultureInfo.InvariantCulture), answer.Trim());
        throw new FormatException($"the judge's answer has no score from 1 to 5: \"{(answer.Length > 200 ? answer[..200] + "…" : answer)}\"");
    }

    static int? ReadScore(JsonElement score) =>
        score.ValueKind == JsonValueKind.Number && score.TryGetDouble(out var d) && d is >= 1 and <= 5 ? (int)Math.Round(d)
        : score.ValueKind == JsonValueKind.String && int.TryParse(score.GetString(), out var i) && i is >= 1 and <= 5 ? i
        : null;

    /// <summary>The metric a judged expectation reports: the score, failed below the threshold (or when the judge could not be asked or read).</summary>
    public static async Task<EvaluationMetric> MetricAsync(string name, int threshold, Func<Task<JudgeVerdict>> ask)
    {
        var metric = new NumericMetric(name);
        try
        {
            var verdict = await ask();
            metric.Value = verdict.Score;
            var passed = verdict.Score >= threshold;
            metric.Reason = $"scored {verdict.Score}/5 (needs {threshold}): {verdict.Reason}";
            metric.Interpretation = new EvaluationMetricInterpretation(Rating(verdict.Score), failed: !passed, reason: metric.Reason);
        }
        catch (Exception e) when (e is FormatException or HttpRequestException or Models.UpstreamModelException or Api.ApiProblemException or TaskCanceledException)
        {
            metric.Reason = $"the judge could not score it: {e.Message}";
            metric.AddDiagnostics(EvaluationDiagnostic.Error(metric.Reason));
            metric.Interpretation = new EvaluationMetricInterpretation(EvaluationRating.Inconclusive, failed: true, reason: metric.Reason);
        }
        return metric;
    }

    /// <summary>A judged expectation without a judge model: skipped, never passed.</summary>
    public static EvaluationMetric Skipped(string name)
    {
        var metric = new NumericMetric(name)
        {
            Reason = "skipped: no judge model is configured (Evals:JudgeModel or --judge)",
        };
        metric.Interpretation = new EvaluationMetricInterpretation(EvaluationRating.Inconclusive, failed: false, reason: metric.Reason);
        return metric;
    }

    static EvaluationRating Rating(int score) => score switch
    {
        5 => EvaluationRating.Exceptional,
        4 => EvaluationRating.Good,
        3 => EvaluationRating.Average,
        2 => EvaluationRating.Poor,
        _ => EvaluationRating.Unacceptable,
    };

    [GeneratedRegex(@"\{[^{}]*\}", RegexOptions.Singleline)]
    private static partial Regex JsonObject();

    [GeneratedRegex(@"score\W{0,3}([1-5])\b", RegexOptions.IgnoreCase)]
    private static partial Regex PlainScore();
}
