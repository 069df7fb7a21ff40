using Agentry.Api;

namespace Agentry.Evals;

/// <summary>
/// POST /v1/evals/runs (and what <c>agentry eval run</c> asks for): the suites (all when none are named), the models to
/// compare (each agent's own when none), repeats, how many cases at once, the baseline to compare against (a run id or
/// <c>latest</c>), only the cases starting at one agent, the pass rate a case needs across repeats, and a judge model.
/// </summary>
public sealed record EvalRunRequest(
    IReadOnlyList<string>? Suites, IReadOnlyList<string>? Models, int? Repeat, int? Concurrency, string? Baseline, string? Agent, double? PassRate, string? Judge)
    : IValidatable
{
    public const string LatestBaseline = "latest";

    public void Validate(ValidationErrors errors)
    {
        errors.Count("suites", Suites, 50);
        foreach (var suite in Suites ?? []) errors.Slug("suites", suite);
        errors.Count("models", Models, 8);
        foreach (var model in Models ?? []) errors.MaxLength("models", model, 200);
        errors.Range("repeat", Repeat, 1, 100);
        errors.Range("concurrency", Concurrency, 1, 32);
        errors.MaxLength("baseline", Baseline, 40);
        if (Agent is not null) errors.Slug("agent", Agent);
        errors.Range("passRate", PassRate, 0, 1);
        errors.MaxLength("judge", Judge, 200);
    }
}

/// <summary>A run as the API shows it: its progress while it runs, its figures and report once it has finished.</summary>
public sealed record EvalRunDto(
    string Id, string Status, int CasesTotal, int CasesDone, double? PassRate, string? Error, DateTimeOffset CreatedAt, DateTimeOffset? FinishedAt, EvalReport? Report)
{
    public static EvalRunDto From(EvalRun run, bool withReport) =>
        new(run.Id, run.Status, run.CasesTotal, run.CasesDone, run.PassRate, run.Error, run.CreatedAt, run.FinishedAt,
            withReport && run.Report is { } report ? System.Text.Json.JsonSerializer.Deserialize<EvalReport>(report, EvalRuns.Json) : null);
}
