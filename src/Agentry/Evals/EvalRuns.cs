using System.Text.Json;
using Agentry.Data;
using Agentry.Security;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Agentry.Evals;

/// <summary>
/// Plans, runs and stores eval runs, for the command line (in its own process, waiting for the result) and the API (in
/// the background; progress by GET, the end announced on the webhook). A run is stored from its start, with its
/// progress, so runs can be listed and compared over time.
/// </summary>
public sealed partial class EvalRuns(
    IServiceScopeFactory scopes, EvalRunner runner, Models.ModelCatalog models, IOptions<Models.ModelOptions> modelOptions, IOptions<EvalOptions> options,
    Streaming.DetachedRuns detached, Conversations.TurnShutdown shutdown, Webhooks.WebhookSender webhooks, TimeProvider time, ILogger<EvalRuns> logger)
{
    public const string IdPrefix = "eval";
    internal static readonly JsonSerializerOptions Json = CreateJson();

    /// <summary>
    /// What a request asks for, resolved: the suites (named ones; a path to a file only <paramref name="fromCommandLine"/>:
    /// a key never names a file on the server), the models checked, the baseline loaded. Through the API a run takes at
    /// most <see cref="EvalOptions.Concurrency"/> cases at once. Null with the reasons when it cannot run.
    /// </summary>
    public async Task<(EvalPlan? Plan, List<string> Errors)> PlanAsync(EvalRunRequest request, bool fromCommandLine, CancellationToken cancellationToken)
    {
        var errors = new List<string>();
        await using var scope = scopes.CreateAsyncScope();
        var catalog = scope.ServiceProvider.GetRequiredService<EvalSuites>();
        var (all, problems) = await catalog.LoadAllAsync(cancellationToken);
        var suites = new List<EvalSuite>();
        if (request.Suites is not { Count: > 0 } named)
        {
            errors.AddRange(problems); // running everything: every suite must be readable
            suites.AddRange(all);
            if (all.Count == 0 && problems.Count == 0) errors.Add($"There are no suites: write one in {catalog.Folder ?? "the evals folder (Evals:Directory)"} or create one with POST /v1/evals/suites.");
        }
        else
        {
            foreach (var name in named)
            {
                if (all.FirstOrDefault(s => s.Id == name) is { } suite) suites.Add(suite);
                else if (fromCommandLine && (name.EndsWith(".yaml", StringComparison.OrdinalIgnoreCase) || name.EndsWith(".yml", StringComparison.OrdinalIgnoreCase)) && File.Exists(name))
                {
                    if (await catalog.ReadFileAsync(name, errors, cancellationToken) is { } fromFile) suites.Add(fromFile);
                }
                else if (problems.FirstOrDefault(p => p.Contains($"'{name}'", StringComparison.Ordinal) || p.StartsWith(name + ".", StringComparison.Ordinal)) is { } problem)
                    errors.Add(problem);
                else errors.Add($"There is no suite '{name}' (suites: {(all.Count == 0 ? "none" : string.Join(", ", all.Select(s => s.Id)))}).");
            }
        }
        var modelList = request.Models is { Count: > 0 } asked ? asked.Select(m => (string?)m).Distinct().ToList() : [null];
        foreach (var model in modelList.OfType<string>())
            if (!models.IsAvailable(model, out var problem)) errors.Add($"--model {model}: {problem}");
        var judge = string.IsNullOrWhiteSpace(request.Judge) ? options.Value.JudgeModel : request.Judge;
        if (judge is not null && EvalOptionsValidator.JudgeProblem(modelOptions.Value, judge, "The judge model") is { } judgeProblem) errors.Add(judgeProblem);
        var repeat = request.Repeat ?? 1;
        if (repeat > options.Value.MaxRepeat) errors.Add($"repeat is at most {options.Value.MaxRepeat} (Evals:MaxRepeat).");
        EvalReport? baseline = null;
        if (request.Baseline is { } wanted && errors.Count == 0)
        {
            baseline = await BaselineAsync(wanted, cancellationToken);
            if (baseline is null)
                errors.Add(wanted == EvalRunRequest.LatestBaseline ? "There is no finished run to compare with yet (--baseline latest)." : $"There is no finished run '{wanted}' to compare with.");
        }
        if (errors.Count > 0) return (null, errors);
        var concurrency = fromCommandLine ? request.Concurrency ?? options.Value.Concurrency : Math.Min(request.Concurrency ?? int.MaxValue, options.Value.Concurrency);
        var plan = new EvalPlan(suites, modelList, repeat, concurrency, request.PassRate ?? 1.0, judge, baseline, request.Agent);
        if (runner.CountRuns(plan) == 0) return (null, [request.Agent is null ? "The suites have no cases." : $"No case starts at agent '{request.Agent}'."]);
        return (plan, errors);
    }

    /// <summary>Stores the run as running (with the number of case runs it will make) and returns its id.</summary>
    public async Task<EvalRun> CreateAsync(EvalRunRequest request, EvalPlan plan, string? keyId, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<AgentryDbContext>();
        var run = new EvalRun
        {
            Id = Ids.New(IdPrefix), Status = EvalRunStatus.Running, KeyId = keyId, Request = JsonSerializer.Serialize(request, Json), CasesTotal = runner.CountRuns(plan),
            CreatedAt = time.GetUtcNow(),
        };
        db.EvalRuns.Add(run);
        await db.SaveChangesAsync(cancellationToken);
        return run;
    }

    /// <summary>Runs a stored run to its end and stores the report; <paramref name="finished"/> hears of each case run (a progress bar).</summary>
    public async Task<EvalReport> RunAsync(EvalRun run, EvalPlan plan, Caller caller, Action<EvalCaseResult>? finished, CancellationToken cancellationToken)
    {
        var done = 0;
        EvalReport report;
        try
        {
            report = await runner.RunAsync(run.Id, plan, caller, result =>
            {
                var count = Interlocked.Increment(ref done);
                finished?.Invoke(result);
                _ = ProgressAsync(run.Id, count);
            }, cancellationToken);
        }
        catch (Exception e)
        {
            await FinishAsync(run.Id, EvalRunStatus.Error, null, null, e is OperationCanceledException ? "The run was cut short (the service stopped or it was cancelled)." : e.Message);
            throw;
        }
        await FinishAsync(run.Id, report.Status, report, report.Summaries.Count == 0 ? 0 : report.Summaries.Average(s => s.PassRate), null);
        return report;
    }

    int _running;

    /// <summary>
    /// Claims one of this instance's <see cref="EvalOptions.MaxRunning"/> places for a run through the API; false when
    /// all are taken. <see cref="Start"/> gives it back when the run ends.
    /// </summary>
    public bool TryClaim()
    {
        if (Interlocked.Increment(ref _running) <= options.Value.MaxRunning) return true;
        Interlocked.Decrement(ref _running);
        return false;
    }

    public void Release() => Interlocked.Decrement(ref _running);

    /// <summary>For the API: runs in the background (the service's shutdown waits for it, or cuts it short after its grace) and announces its end.</summary>
    public void Start(EvalRun run, EvalPlan plan, Caller caller) => detached.Start(async () =>
    {
        try
        {
            var report = await RunAsync(run, plan, caller, null, shutdown.Token);
            webhooks.Announce(Webhooks.WebhookEvents.EvalRunCompleted, new
            {
                runId = run.Id, status = report.Status, passRate = report.Summaries.Average(s => s.PassRate), regressions = report.Regressions.Count,
            });
        }
        catch (Exception e)
        {
            LogRunFailed(e, run.Id);
            webhooks.Announce(Webhooks.WebhookEvents.EvalRunCompleted, new { runId = run.Id, status = EvalRunStatus.Error });
        }
        finally
        {
            Release();
        }
    });

    /// <summary>A finished run's report: by id, or the newest finished one for <c>latest</c>.</summary>
    public async Task<EvalReport?> BaselineAsync(string baseline, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var runs = scope.ServiceProvider.GetRequiredService<AgentryDbContext>().EvalRuns.AsNoTracking().Where(r => r.Report != null);
        var found = baseline == EvalRunRequest.LatestBaseline
            ? await runs.OrderByDescending(r => r.Id).FirstOrDefaultAsync(cancellationToken)
            : await runs.FirstOrDefaultAsync(r => r.Id == baseline, cancellationToken);
        return found?.Report is { } json ? JsonSerializer.Deserialize<EvalReport>(json, Json) : null;
    }

    async Task ProgressAsync(string runId, int done)
    {
        try
        {
            await using var scope = scopes.CreateAsyncScope();
            await scope.ServiceProvider.GetRequiredService<AgentryDbContext>().EvalRuns.Where(r => r.Id == runId && r.CasesDone < done)
                .ExecuteUpdateAsync(s => s.SetProperty(r => r.CasesDone, done), CancellationToken.None);
        }
        catch (Exception e) when (e is DbUpdateException or InvalidOperationException or System.Data.Common.DbException)
        {
            LogProgressNotStored(e, runId); // the figure is informative; the report at the end is what counts
        }
    }

    async Task FinishAsync(string runId, string status, EvalReport? report, double? passRate, string? error)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<AgentryDbContext>();
        var run = await db.EvalRuns.FirstAsync(r => r.Id == runId, CancellationToken.None);
        run.Status = status;
        run.Report = report is null ? null : JsonSerializer.Serialize(report, Json);
        run.PassRate = passRate;
        run.Error = error;
        run.FinishedAt = time.GetUtcNow();
        if (report is not null) run.CasesDone = report.Results.Count;
        await db.SaveChangesAsync(CancellationToken.None);
    }

    static JsonSerializerOptions CreateJson()
    {
        var json = new JsonSerializerOptions(JsonSerializerDefaults.Web);
        Api.ApiExtensions.ConfigureJson(json);
        // A stored report is read back by later versions (baselines, GET): a field added or dropped since must not fail it.
        json.UnmappedMemberHandling = System.Text.Json.Serialization.JsonUnmappedMemberHandling.Skip;
        return json;
    }

    [LoggerMessage(EventId = 9300, Level = LogLevel.Error, Message = "Eval run {RunId} failed")]
    partial void LogRunFailed(Exception exception, string runId);

    [LoggerMessage(EventId = 9301, Level = LogLevel.Warning, Message = "Could not store the progress of eval run {RunId}")]
    partial void LogProgressNotStored(Exception exception, string runId);
}
