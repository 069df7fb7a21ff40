namespace Agentry.Evals;

/// <summary>How one expectation came out: <c>passed</c>, <c>failed</c> (with why), or <c>skipped</c> (a judged one without a judge model).</summary>
public sealed record EvalCheck(string Expectation, string Status, string? Reason, double? Value, int Line)
{
    public const string Passed = "passed";
    public const string Failed = "failed";
    public const string Skipped = "skipped";
}

public sealed record EvalTurnResult(
    int Turn, string User, string AnsweredBy, string? AgentVersion, string Reply, double LatencyMs, int Tokens, double CostUsd, IReadOnlyList<EvalCheck> Checks);

/// <summary>One run of one case on one model: passed when none of its expectations failed.</summary>
public sealed record EvalCaseResult(
    string Suite, string Case, string Model, int Repeat, bool Passed, string? ConversationId, IReadOnlyList<EvalTurnResult> Turns);

/// <summary>A case across its repeats on one model: it holds when its pass rate reaches the run's threshold.</summary>
public sealed record EvalCaseSummary(string Suite, string Case, string Model, int Runs, int Passed, double PassRate, bool Holds);

/// <summary>
/// One model's figures: pass rate over every case run with its 95 % Wilson interval (meaningful with --repeat),
/// latency percentiles over turns, cost and tokens.
/// </summary>
public sealed record EvalModelSummary(
    string Model, int Cases, int CasesHolding, int Runs, int RunsPassed, double PassRate, double PassRateLow, double PassRateHigh, double LatencyP50Ms,
    double LatencyP95Ms, double CostUsd, long Tokens, int ChecksSkipped);

/// <summary>A case that held in the baseline run and does not now.</summary>
public sealed record EvalRegression(string Suite, string Case, string Model, double BaselinePassRate, double PassRate);

public sealed record EvalReport(
    string RunId, string Status, DateTimeOffset StartedAt, DateTimeOffset FinishedAt, IReadOnlyList<string> Suites, IReadOnlyList<string> Models, int Repeat,
    double PassThreshold, string? JudgeModel, IReadOnlyDictionary<string, string> AgentVersions, IReadOnlyList<EvalModelSummary> Summaries,
    IReadOnlyList<EvalCaseSummary> Cases, IReadOnlyList<EvalCaseResult> Results, string? BaselineRunId, IReadOnlyDictionary<string, string>? BaselineAgentVersions,
    IReadOnlyList<EvalRegression> Regressions)
{
    /// <summary>Tokens the judge model used (scoring rubrics and groundedness), charged to the run's key like its turns.</summary>
    public long JudgeTokens { get; init; }

    public double JudgeCostUsd { get; init; }

    /// <summary>The label of a run on the agents' own models (no --model).</summary>
    public const string AgentsOwnModels = "agents' own";

    public static EvalReport Build(
        string runId, DateTimeOffset startedAt, DateTimeOffset finishedAt, IReadOnlyList<string> suites, IReadOnlyList<string> models, int repeat, double threshold,
        string? judge, IReadOnlyDictionary<string, string> versions, IReadOnlyList<EvalCaseResult> results, EvalReport? baseline)
    {
        var cases = results.GroupBy(r => (r.Suite, r.Case, r.Model))
            .Select(g =>
            {
                var passed = g.Count(r => r.Passed);
                var rate = (double)passed / g.Count();
                return new EvalCaseSummary(g.Key.Suite, g.Key.Case, g.Key.Model, g.Count(), passed, rate, rate >= threshold - 1e-9);
            })
            .ToList();
        var summaries = models.Select(model =>
        {
            var runs = results.Where(r => r.Model == model).ToList();
            var turns = runs.SelectMany(r => r.Turns).ToList();
            var latencies = turns.Select(t => t.LatencyMs).Order().ToList();
            var passed = runs.Count(r => r.Passed);
            var (low, high) = Wilson(passed, runs.Count);
            return new EvalModelSummary(model, cases.Count(c => c.Model == model), cases.Count(c => c.Model == model && c.Holds), runs.Count, passed,
                runs.Count == 0 ? 0 : (double)passed / runs.Count, low, high, Percentile(latencies, 0.50), Percentile(latencies, 0.95), turns.Sum(t => t.CostUsd),
                turns.Sum(t => (long)t.Tokens), turns.Sum(t => t.Checks.Count(c => c.Status == EvalCheck.Skipped)));
        }).ToList();
        var regressions = baseline is null ? [] : cases
            .Select(c => (Now: c, Then: baseline.Cases.FirstOrDefault(b => b.Suite == c.Suite && b.Case == c.Case && b.Model == c.Model)))
            .Where(p => p.Then is { Holds: true } && !p.Now.Holds)
            .Select(p => new EvalRegression(p.Now.Suite, p.Now.Case, p.Now.Model, p.Then!.PassRate, p.Now.PassRate)).ToList();
        var status = cases.All(c => c.Holds) && regressions.Count == 0 ? EvalRunStatus.Passed : EvalRunStatus.Failed;
        return new EvalReport(runId, status, startedAt, finishedAt, suites, models, repeat, threshold, judge, versions, summaries, cases, results,
            baseline?.RunId, baseline?.AgentVersions, regressions);
    }

    /// <summary>The 95 % Wilson score interval of <paramref name="passed"/> out of <paramref name="runs"/>.</summary>
    public static (double Low, double High) Wilson(int passed, int runs)
    {
        if (runs == 0) return (0, 0);
        const double z = 1.96;
        var p = (double)passed / runs;
        var denominator = 1 + z * z / runs;
        var centre = (p + z * z / (2 * runs)) / denominator;
        var half = z * Math.Sqrt(p * (1 - p) / runs + z * z / (4.0 * runs * runs)) / denominator;
        return (Math.Max(0, centre - half), Math.Min(1, centre + half));
    }

    static double Percentile(List<double> sorted, double q) =>
        sorted.Count == 0 ? 0 : sorted[Math.Clamp((int)Math.Ceiling(q * sorted.Count) - 1, 0, sorted.Count - 1)];
}
