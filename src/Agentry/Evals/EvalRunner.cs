using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Agentry.Agents;
using Agentry.Api;
using Agentry.Conversations;
using Agentry.Data;
using Agentry.Security;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.AI.Evaluation;
using Microsoft.Extensions.Options;

namespace Agentry.Evals;

/// <summary>What a run does: the suites, on which models (null: each agent's own), how often, how many cases at once, what holds.</summary>
public sealed record EvalPlan(
    IReadOnlyList<EvalSuite> Suites, IReadOnlyList<string?> Models, int Repeat, int Concurrency, double PassThreshold, string? Judge, EvalReport? Baseline, string? Agent);

/// <summary>
/// Runs eval cases through the real turn pipeline — the same routing, rules, tools, knowledge and models a customer
/// meets — in conversations tagged with the run (their side-effecting tools run dry), and scores each turn with the
/// evaluators: <see cref="ExpectationEvaluator"/> for everything deterministic, <see cref="RubricEvaluator"/> and
/// <see cref="GroundednessEvaluator"/> through the judge model.
/// </summary>
public sealed class EvalRunner(IServiceScopeFactory scopes, Models.ModelCatalog models, Observability.ModelPrices prices, IOptions<ConversationOptions> conversations,
    TokenBudget budget, TimeProvider time)
{
    static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    static readonly CompositeEvaluator Evaluator = new CompositeEvaluator(new ExpectationEvaluator(), new RubricEvaluator(), new GroundednessEvaluator());

    /// <summary>The cases a plan runs once per model and repeat (those starting at <see cref="EvalPlan.Agent"/>, when it names one).</summary>
    public IEnumerable<(EvalSuite Suite, EvalCase Case)> CasesOf(EvalPlan plan) =>
        plan.Suites.SelectMany(s => s.Cases.Select(c => (Suite: s, Case: c)))
            .Where(p => plan.Agent is null || (p.Case.Agent ?? p.Suite.Agent ?? conversations.Value.DefaultAgent) == plan.Agent);

    public int CountRuns(EvalPlan plan) => CasesOf(plan).Count() * plan.Models.Count * plan.Repeat;

    public async Task<EvalReport> RunAsync(string runId, EvalPlan plan, Caller caller, Action<EvalCaseResult>? finished, CancellationToken cancellationToken)
    {
        var started = time.GetUtcNow();
        var judgeModel = plan.Judge is null ? null : models.Resolve(plan.Judge);
        var judgeClient = judgeModel is null ? null : new JudgeChatClient(judgeModel.Client, budget, caller);
        var judge = judgeClient is null ? null : new ChatConfiguration(judgeClient);
        var work = (from model in plan.Models
                    from repeat in Enumerable.Range(1, plan.Repeat)
                    from pair in CasesOf(plan)
                    select (pair.Suite, pair.Case, Model: model, Repeat: repeat)).ToList();
        var versions = await VersionsAsync(cancellationToken);
        var results = new EvalCaseResult[work.Count];
        await Parallel.ForEachAsync(Enumerable.Range(0, work.Count), new ParallelOptions { MaxDegreeOfParallelism = plan.Concurrency, CancellationToken = cancellationToken },
            async (i, ct) =>
            {
                var (suite, evalCase, model, repeat) = work[i];
                results[i] = await RunCaseAsync(runId, suite, evalCase, model, repeat, caller, judge, ct);
                finished?.Invoke(results[i]);
            });
        var judgeTokens = (judgeClient?.InputTokens ?? 0) + (judgeClient?.OutputTokens ?? 0);
        return EvalReport.Build(runId, started, time.GetUtcNow(), plan.Suites.Select(s => s.Id).ToList(), plan.Models.Select(Label).ToList(), plan.Repeat,
            plan.PassThreshold, plan.Judge, versions, results, plan.Baseline) with
        {
            JudgeTokens = judgeTokens,
            JudgeCostUsd = judgeModel is null ? 0 : prices.Cost(judgeModel.Name, judgeClient!.InputTokens, judgeClient.OutputTokens),
        };
    }

    public static string Label(string? model) => model ?? EvalReport.AgentsOwnModels;

    /// <summary>One case run; whatever goes wrong in it is that case's failure, with why, not the end of the run.</summary>
    async Task<EvalCaseResult> RunCaseAsync(string runId, EvalSuite suite, EvalCase evalCase, string? model, int repeat, Caller caller, ChatConfiguration? judge,
        CancellationToken cancellationToken)
    {
        try
        {
            return await RunCaseStepsAsync(runId, suite, evalCase, model, repeat, caller, judge, cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            var first = evalCase.Turns.Count > 0 ? evalCase.Turns[0] : null;
            var failed = new EvalCheck("the case runs", EvalCheck.Failed, $"it could not run: {e.Message}", null, first?.Line ?? 0);
            return new EvalCaseResult(suite.Id, evalCase.Id, Label(model), repeat, false, null, [new EvalTurnResult(1, first?.User ?? "", "", null, "", 0, 0, 0, [failed])]);
        }
    }

    async Task<EvalCaseResult> RunCaseStepsAsync(string runId, EvalSuite suite, EvalCase evalCase, string? model, int repeat, Caller caller, ChatConfiguration? judge,
        CancellationToken cancellationToken)
    {
        // The case's user is its own: memories it is given, and anything the agents do for it, never touch a real user.
        var userId = evalCase.UserId is null ? null : $"eval-{Short($"{runId}/{suite.Id}/{evalCase.Id}/{model}/{repeat}")}-{evalCase.UserId}";
        var startAgent = evalCase.Agent ?? suite.Agent;
        var (personality, setupFailure) = await PrepareAsync(evalCase, startAgent, userId, caller, cancellationToken);
        var turns = new List<EvalTurnResult>();
        var history = new List<ChatMessage>();
        string? conversationId = null;
        try
        {
            for (var index = 0; index < evalCase.Turns.Count; index++)
            {
                var turn = evalCase.Turns[index];
                var observed = setupFailure is not null ? TurnObservation.Failed(setupFailure, 0)
                    : await RunTurnAsync(new TurnRequest(conversationId, turn.User, conversationId is null ? startAgent : null, userId, caller)
                    {
                        EvalRunId = runId, ModelOverride = model, DeclaredToolResults = evalCase.ToolResults, PersonalityOverride = personality,
                    }, cancellationToken);
                conversationId ??= observed.ConversationId;
                history.Add(new ChatMessage(ChatRole.User, turn.User));
                var reply = new ChatResponse(new ChatMessage(ChatRole.Assistant, observed.Reply));
                var passages = turn.Expect.Any(e => e.Kind == ExpectationKinds.Grounded) ? await PassagesAsync(observed, turn.User, cancellationToken) : [];
                var result = await Evaluator.EvaluateAsync(history, reply, judge, [new EvalTurnContext(observed, turn.Expect, passages)], cancellationToken);
                history.Add(reply.Messages[0]);
                turns.Add(new EvalTurnResult(index + 1, turn.User, observed.AnsweredBy, observed.AgentVersion, observed.Reply, Math.Round(observed.LatencyMs, 1),
                    observed.Tokens, observed.CostUsd, Checks(turn, observed, result)));
            }
        }
        finally
        {
            if (userId is not null && evalCase.Memories.Count > 0) await ForgetAsync(userId);
        }
        return new EvalCaseResult(suite.Id, evalCase.Id, Label(model), repeat, turns.All(t => t.Checks.All(c => c.Status != EvalCheck.Failed)), conversationId, turns);
    }

    /// <summary>The checks of a turn in the order they were written; a turn that failed fails each (and fails even with none written).</summary>
    static List<EvalCheck> Checks(EvalTurn turn, TurnObservation observed, EvaluationResult result)
    {
        var checks = new List<EvalCheck>();
        if (observed.Failure is { } failure) checks.Add(new EvalCheck("the turn completes", EvalCheck.Failed, failure, null, turn.Line));
        foreach (var metric in result.Metrics.Values)
        {
            var label = metric.Name.Split(" (#", 2)[0];
            var line = turn.Expect.FirstOrDefault(e => e.Label == label)?.Line ?? turn.Line;
            var interpretation = metric.Interpretation;
            var status = observed.Failure is not null ? EvalCheck.Failed
                : interpretation?.Failed == true ? EvalCheck.Failed
                : interpretation?.Rating == EvaluationRating.Inconclusive ? EvalCheck.Skipped
                : EvalCheck.Passed;
            var value = metric is NumericMetric numeric ? numeric.Value : null;
            checks.Add(new EvalCheck(metric.Name, status, observed.Failure is { } f ? $"the turn failed: {f}" : metric.Reason, value, line));
        }
        return checks;
    }

    async Task<TurnObservation> RunTurnAsync(TurnRequest request, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        await using var scope = scopes.CreateAsyncScope();
        try
        {
            var dto = await scope.ServiceProvider.GetRequiredService<TurnRunner>().RunAsync(request, cancellationToken);
            var latency = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            ObservedToolCall? held = null;
            if (dto.PendingApprovalId is { } approvalId
                && await scope.ServiceProvider.GetRequiredService<AgentryDbContext>().Approvals.AsNoTracking().FirstOrDefaultAsync(a => a.Id == approvalId, cancellationToken) is { } approval)
            {
                using var arguments = JsonDocument.Parse(approval.Arguments);
                held = new ObservedToolCall(approval.ToolName,
                    arguments.RootElement.ValueKind == JsonValueKind.Object ? arguments.RootElement.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.Clone()) : [],
                    Tools.ToolOutcome.PendingApproval);
            }
            return TurnObservation.From(dto, held, latency, prices.Cost(dto.Model, dto.Usage.InputTokens, dto.Usage.OutputTokens)) with { ConversationId = dto.ConversationId };
        }
        catch (ApiProblemException e)
        {
            return TurnObservation.Failed($"{e.Title}: {e.Message}", Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        }
        catch (Models.UpstreamModelException e)
        {
            return TurnObservation.Failed(e.Message, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        }
    }

    /// <summary>The case's personality overrides as the agent accepts them, and its user's memories given; or why the case cannot start.</summary>
    async Task<(string? Personality, string? Failure)> PrepareAsync(EvalCase evalCase, string? startAgent, string? userId, Caller caller, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var services = scope.ServiceProvider;
        string? personality = null;
        if (evalCase.Personality is { } requested)
        {
            var agentId = startAgent ?? conversations.Value.DefaultAgent;
            if (await services.GetRequiredService<AgentCatalog>().FindAsync(agentId, cancellationToken) is not { } agent) return (null, $"there is no agent '{agentId}'");
            var (accepted, errors) = await services.GetRequiredService<PersonalityOverrides>().CheckAsync(agent.Definition, requested, cancellationToken);
            if (errors.Count > 0) return (null, $"personality: {string.Join(" ", errors.SelectMany(e => e.Value.Select(v => $"{e.Key}: {v}")))}");
            personality = accepted is null ? null : JsonSerializer.Serialize(accepted, Json);
        }
        if (evalCase.Memories.Count > 0)
        {
            if (userId is null) return (personality, "memories need a userId: the case's user is whom they are about");
            var memories = services.GetRequiredService<Memory.UserMemories>();
            foreach (var memory in evalCase.Memories)
                await memories.AddAsync(userId, memory, null, Memory.MemoryAuthors.Eval, null, Audit.AuditActor.For(caller), caller.KeyId, cancellationToken);
        }
        return (personality, null);
    }

    /// <summary>The memories a case gave its user go when it ends (its conversations stay, tagged with the run, as its record).</summary>
    async Task ForgetAsync(string userId)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<AgentryDbContext>();
        await db.Memories.Where(m => m.UserId == userId).ExecuteDeleteAsync(CancellationToken.None);
        var collection = Memory.MemorySnapshot.Collection(userId);
        await db.Embeddings.Where(e => e.Collection == collection).ExecuteDeleteAsync(CancellationToken.None);
        await scope.ServiceProvider.GetRequiredService<Memory.SnapshotCache>().InvalidateAsync(Memory.UserMemories.CacheKey(userId));
    }

    /// <summary>What retrieval gives the answering agent for the question: the material groundedness is judged against.</summary>
    async Task<IReadOnlyList<string>> PassagesAsync(TurnObservation observed, string question, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        if (await scope.ServiceProvider.GetRequiredService<AgentCatalog>().FindAsync(observed.AnsweredBy, cancellationToken) is not { Definition.Knowledge: { Bases.Count: > 0 } knowledge })
            return [];
        var hits = await scope.ServiceProvider.GetRequiredService<Knowledge.IKnowledgeSearch>().SearchAsync(knowledge.Bases, question, knowledge.TopK, cancellationToken);
        return hits.Select((h, i) => Knowledge.KnowledgeContext.Passage(i + 1, h.Passage)).ToList();
    }

    /// <summary>Each agent's version as the run starts: the report names what it tested.</summary>
    async Task<IReadOnlyDictionary<string, string>> VersionsAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var agents = await scope.ServiceProvider.GetRequiredService<AgentCatalog>().ListAsync(cancellationToken);
        return agents.Where(a => a.Definition.Version is not null).ToDictionary(a => a.Definition.Id, a => a.Definition.Version!, StringComparer.Ordinal);
    }

    static string Short(string text) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..10];
}
