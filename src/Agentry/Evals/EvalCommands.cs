using System.CommandLine;
using System.Text.Json;
using Agentry.Agents;
using Agentry.Knowledge;
using Agentry.Operations;
using Agentry.Security;

namespace Agentry.Evals;

/// <summary>
/// <c>agentry eval run [suite…]</c>: runs eval suites in this process against the configured database, agents and
/// models, prints a table, writes JUnit/JSON for a pipeline, and exits 1 when a case fails or regresses (2 when the
/// suites or options cannot be used).
/// </summary>
public static class EvalCommands
{
    /// <summary>Who the command line's runs are charged to and audited as: no key, so a name of its own.</summary>
    static readonly Caller CommandLine = new("eval-cli", "agentry eval", "", new HashSet<string> { Scopes.Admin }, new ApiKeyLimits(null, null, null, null));

    /// <summary>
    /// For <c>agentry eval …</c>: the service's log at Warning unless the command line sets a level, so the run's own
    /// progress and table are what the terminal (or the CI log) shows.
    /// </summary>
    public static string[] QuietLogs(string[] command, string[] settings) =>
        command is ["eval", ..] && !settings.Any(s => s.StartsWith("--Logging:", StringComparison.OrdinalIgnoreCase))
            ? [.. settings, "--Logging:LogLevel:Default=Warning"]
            : settings;

    public static Command Eval(CommandHost host)
    {
        var suites = new Argument<string[]>("suite") { Description = "Suites to run, by id or as a path to a .yaml file (all suites when none).", Arity = ArgumentArity.ZeroOrMore };
        var agent = new Option<string?>("--agent") { Description = "Run only the cases that start at this agent." };
        var model = new Option<string[]>("--model") { Description = "Run on this model instead of each agent's own; give it twice or more to compare models side by side.", AllowMultipleArgumentsPerToken = false };
        var repeat = new Option<int>("--repeat") { Description = "Run each case this many times (pass rates with a 95% interval, for models that vary).", DefaultValueFactory = _ => 1 };
        var concurrency = new Option<int?>("--concurrency") { Description = "Cases run at once (Evals:Concurrency, 4, when not given)." };
        var baseline = new Option<string?>("--baseline") { Description = "A run id, or 'latest': report (and fail on) cases that held then and do not now." };
        var passRate = new Option<double>("--pass-rate") { Description = "The share of a case's runs that must pass for it to hold (with --repeat).", DefaultValueFactory = _ => 1.0 };
        var judge = new Option<string?>("--judge") { Description = "The model that scores judged expectations (Evals:JudgeModel when not given; skipped without one)." };
        var junit = new Option<FileInfo?>("--junit") { Description = "Write the results as JUnit XML to this file." };
        var json = new Option<FileInfo?>("--json") { Description = "Write the whole report as JSON to this file." };
        repeat.Validators.Add(r => { if (r.GetValueOrDefault<int>() is < 1 or > 100) r.AddError("--repeat takes 1 to 100."); });
        concurrency.Validators.Add(r => { if (r.GetValueOrDefault<int?>() is < 1 or > 32) r.AddError("--concurrency takes 1 to 32."); });
        passRate.Validators.Add(r => { if (r.GetValueOrDefault<double>() is < 0 or > 1) r.AddError("--pass-rate takes 0 to 1."); });
        var run = new Command("run", "Run eval suites against the agents as they are now; exit 1 when a case fails or regresses.")
            { suites, agent, model, repeat, concurrency, baseline, passRate, judge, junit, json };
        run.SetAction((result, ct) => RunAsync(host, new EvalRunRequest(result.GetValue(suites), result.GetValue(model), result.GetValue(repeat), result.GetValue(concurrency),
            result.GetValue(baseline), result.GetValue(agent), result.GetValue(passRate), result.GetValue(judge)), result.GetValue(junit), result.GetValue(json), ct));
        return new Command("eval", "Evals: suites of scripted conversations with expectations, a regression gate for agent changes.") { run };
    }

    static async Task<int> RunAsync(CommandHost host, EvalRunRequest request, FileInfo? junit, FileInfo? json, CancellationToken cancellationToken)
    {
        var services = await host.ReadyAsync();
        services.LoadAgentFiles();
        await services.RecordAgentVersionsAsync();
        try
        {
            await IndexKnowledgeAsync(services, cancellationToken);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            // The embedding model's provider unreachable, say: knowledge cases would fail for a reason that is not the agents'.
            Console.Error.WriteLine($"The knowledge folder could not be indexed, so the suites cannot be run as written: {e.Message}");
            return 2;
        }
        await using (var scope = services.CreateAsyncScope())
        {
            // As readiness does for the service: a case's latency is its turn's, not the first turn's model and base loads.
            var agents = (await scope.ServiceProvider.GetRequiredService<AgentCatalog>().ListAsync(cancellationToken)).Select(a => a.Definition).ToList();
            var loading = "";
            try
            {
                await StartupWarmup.LoadAsync(scope.ServiceProvider, agents, what => loading = what, cancellationToken);
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested)
            {
                // An optimisation, like the service's warm-up: the cases do the same work and report their own errors
                // (an embedding provider that is down, say).
                Console.Error.WriteLine($"Warm-up failed while {loading} ({e.Message}); the first cases will do it and their latency includes it.");
            }
        }

        var runs = services.GetRequiredService<EvalRuns>();
        var (plan, errors) = await runs.PlanAsync(request, fromCommandLine: true, cancellationToken);
        if (plan is null)
        {
            foreach (var error in errors) Console.Error.WriteLine(error);
            return 2;
        }
        var run = await runs.CreateAsync(request, plan, null, cancellationToken);
        var progress = new Progress(run.CasesTotal);
        Console.Error.WriteLine($"Eval run {run.Id}: {string.Join(", ", plan.Suites.Select(s => s.Id))} on {string.Join(" and ", plan.Models.Select(EvalRunner.Label))}, " +
            $"{run.CasesTotal} case run(s){(plan.Judge is null ? "" : $", judged by {plan.Judge}")}");
        var report = await runs.RunAsync(run, plan, CommandLine, progress.Finished, cancellationToken);
        progress.End();
        await using (var scope = services.CreateAsyncScope()) await CommandHost.ChainAuditAsync(scope.ServiceProvider);

        Console.Write(EvalReportWriter.Table(report));
        if (junit is not null)
        {
            junit.Directory?.Create();
            EvalReportWriter.JUnit(report).Save(junit.FullName);
        }
        if (json is not null)
        {
            json.Directory?.Create();
            await File.WriteAllTextAsync(json.FullName, JsonSerializer.Serialize(report, EvalRuns.Json), cancellationToken);
        }
        return report.Status == EvalRunStatus.Passed ? 0 : 1;
    }

    /// <summary>The knowledge folder synced and indexed here, so cases about documents find them from a fresh clone.</summary>
    static async Task IndexKnowledgeAsync(IServiceProvider services, CancellationToken cancellationToken)
    {
        await services.SyncKnowledgeFolderAsync(cancellationToken);
        var indexer = services.GetRequiredService<KnowledgeIndexer>();
        while (await indexer.IndexNextAsync(cancellationToken) is not null)
        {
        }
    }

    /// <summary>A bar on a terminal; one line per case run in a log (CI), where a bar would be noise.</summary>
    sealed class Progress(int total)
    {
        int _done;
        readonly bool _bar = !Console.IsErrorRedirected;
        readonly Lock _lock = new();

        public void Finished(EvalCaseResult result)
        {
            lock (_lock)
            {
                _done++;
                if (_bar)
                {
                    var filled = total == 0 ? 30 : _done * 30 / total;
                    Console.Error.Write($"\r  [{new string('#', filled)}{new string('.', 30 - filled)}] {_done}/{total}");
                }
                else Console.Error.WriteLine($"  [{_done}/{total}] {(result.Passed ? "pass" : "FAIL")} {result.Suite}/{result.Case} ({result.Model}{(result.Repeat > 1 ? $", run {result.Repeat}" : "")})");
            }
        }

        public void End()
        {
            if (_bar) Console.Error.WriteLine();
        }
    }
}
