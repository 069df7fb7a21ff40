using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using Agentry.Agents;
using Agentry.Api;
using Agentry.Audit;
using Agentry.Data;
using Agentry.Models;
using Agentry.Observability;
using Agentry.Rules;
using Agentry.Security;
using Agentry.Tools;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;

namespace Agentry.Conversations;

/// <summary>What a client asked for in one turn. A null conversation id starts a new conversation.</summary>
public sealed record TurnRequest(string? ConversationId, string Content, string? AgentId, string? UserId, Caller? Caller);

/// <summary>One Server-Sent Event of a streaming turn.</summary>
public sealed record TurnEvent(string Type, object Data)
{
    public const string Delta = "message.delta";
    public const string ToolCall = "tool.call";
    public const string ToolResult = "tool.result";
    public const string Handoff = "handoff";
    public const string Rule = "rule";
    public const string ApprovalPending = "approval.pending";
    public const string WorkflowStep = "workflow.step";
    public const string MessageCompleted = "message.completed";
    public const string TurnCompleted = "turn.completed";
    public const string Error = "error";
}

/// <summary>
/// Runs a turn as a small orchestrator over <see cref="IChatClient"/>: the active agent's model is called; its tool
/// calls run (with limits) and feed back; a <c>transfer_to_AGENT</c> call hands the conversation to that agent, which
/// answers within the same turn (up to a hop limit). The user's message and everything produced are stored in one
/// transaction. A turn that fails before producing anything stores nothing (retry-safe); one cut short stores what it
/// produced, marked interrupted. Streaming and non-streaming share this one loop.
/// </summary>
public sealed partial class TurnRunner(
    AgentryDbContext db, AgentCatalog agents, ModelCatalog models, ToolCatalog tools, ToolInvoker toolInvoker, ConversationGate gate,
    IOptions<ConversationOptions> conversationOptions, IOptions<ModelOptions> modelOptions, IOptions<ToolOptions> toolOptions,
    IOptions<SecurityOptions> security, TokenBudget budget, RuleEngine ruleEngine, SemanticRouter router, AuditLog audit, AgentryTelemetry telemetry, ErrorTracker errors, Analytics analytics, SystemMonitor monitor, TimeProvider time, IHttpContextAccessor http,
    ILogger<TurnRunner> logger)
{
    public const string HandoffPrefix = "transfer_to_";
    readonly ConversationOptions _options = conversationOptions.Value;

    public async Task<TurnDto> RunAsync(TurnRequest request, CancellationToken cancellationToken) =>
        await CollectAsync(ExecuteAsync(await PrepareAsync(request, cancellationToken), stream: false, cancellationToken));

    public async IAsyncEnumerable<TurnEvent> StreamAsync(TurnRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var e in ExecuteAsync(await PrepareAsync(request, cancellationToken), stream: true, cancellationToken)) yield return e;
    }

    /// <summary>Continues the turn that stopped at <paramref name="approval"/>: the tool runs (or is refused) and the agent answers.</summary>
    public async Task<TurnDto> ResumeAsync(Approval approval, bool approved, string? note, Caller? decidedBy, CancellationToken cancellationToken) =>
        await CollectAsync(ExecuteAsync(await PrepareResumeAsync(approval, approved, note, decidedBy, cancellationToken), stream: false, cancellationToken));

    static async Task<TurnDto> CollectAsync(IAsyncEnumerable<TurnEvent> events)
    {
        TurnDto? completed = null;
        await foreach (var e in events)
            if (e.Data is TurnDto turn) completed = turn;
        return completed ?? throw new InvalidOperationException("The turn ended without a result.");
    }

    async IAsyncEnumerable<TurnEvent> ExecuteAsync(TurnState turn, bool stream, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var committed = false;
        Exception? failure = null;
        turn.Activity = AgentryTelemetry.Source.StartActivity("agentry.turn");
        turn.Activity?.SetTag("agentry.conversation.id", turn.Conversation.Id).SetTag("agentry.agent.id", turn.Agent.Id).SetTag("agentry.stream", stream);
        try
        {
            if (turn.IsUserTurn)
            {
                foreach (var e in await ApplyInputRulesAsync(turn, agents.EnforcedRules(turn.Agent), cancellationToken)) yield return e;
                if (turn.EscalateTo is { } escalateTo && escalateTo != turn.Agent.Id && turn.BlockedReply is null &&
                    (await agents.FindAsync(escalateTo, db, cancellationToken))?.Definition is { } escalationTarget)
                {
                    var from = turn.Agent.Id;
                    await SwitchAgentAsync(turn, escalationTarget, $"rule {turn.EscalationRule} escalated the conversation", "rule", cancellationToken);
                    yield return new TurnEvent(TurnEvent.Handoff, new { from, to = escalationTarget.Id, reason = $"rule {turn.EscalationRule}" });
                    foreach (var e in await ApplyInputRulesAsync(turn, turn.Agent.Rules.Where(r => r.IsEnforced), cancellationToken)) yield return e;
                }
                if (turn.Agent.Routing.IsSemantic && turn.BlockedReply is null && !IsDirective(turn.Produced[0].Content))
                {
                    // A router agent decides by embedding similarity, with no model call; the chosen agent answers this same turn.
                    var route = await router.RouteAsync(turn.Agent, turn.Produced[0].Content, db, cancellationToken);
                    var targetId = route.Target ?? turn.Agent.Routing.Fallback;
                    if (targetId is not null && targetId != turn.Agent.Id && (await agents.FindAsync(targetId, db, cancellationToken))?.Definition is { } routed)
                    {
                        var from = turn.Agent.Id;
                        await SwitchAgentAsync(turn, routed, route.Reason, "semantic", cancellationToken);
                        yield return new TurnEvent(TurnEvent.Handoff, new { from, to = routed.Id, reason = route.Reason, score = route.Score });
                        foreach (var e in await ApplyInputRulesAsync(turn, routed.Rules.Where(r => r.IsEnforced), cancellationToken)) yield return e;
                    }
                }
            }

            var run = turn.Agent.Workflow is { } workflow && turn.IsUserTurn && turn.BlockedReply is null
                ? RunWorkflowAsync(turn, workflow, stream, cancellationToken)
                : RunAgentAsync(turn, stream, cancellationToken);
            await foreach (var e in run) yield return e;
            failure = turn.Failure;

            if (failure is not null && !turn.ProducedAnything) throw failure; // nothing happened that needs keeping: a plain problem
            if (cancellationToken.IsCancellationRequested) yield break;         // the finally block stores what was produced

            var status = failure is null ? MessageStatus.Completed : MessageStatus.Interrupted;
            var stored = await CommitAsync(turn, status, failure is null ? null : "error");
            committed = true;
            if (failure is not null)
            {
                LogTurnFailed(failure, turn.Conversation.Id);
                if (!stream) throw failure; // the exception handler records it
                errors.Record(failure, Activity.Current?.TraceId.ToString() ?? http.HttpContext?.TraceIdentifier);
                var problem = ApiExceptionHandler.Describe(failure, out _);
                problem.Extensions["traceId"] = Activity.Current?.TraceId.ToString() ?? http.HttpContext?.TraceIdentifier;
                yield return new TurnEvent(TurnEvent.Error, problem);
                yield break;
            }
            foreach (var message in stored.Where(m => m.Role == MessageRoles.Assistant))
                yield return new TurnEvent(TurnEvent.MessageCompleted, MessageDto.From(message));
            yield return new TurnEvent(TurnEvent.TurnCompleted, ToDto(turn, stored));
        }
        finally
        {
            // Reached without a commit when the client disconnected or stopped reading: keep what was produced.
            if (!committed && (failure is null || turn.ProducedAnything))
            {
                try
                {
                    await CommitAsync(turn, MessageStatus.Interrupted, "client_disconnected");
                }
                catch (Exception e) when (e is DbUpdateException or ApiProblemException)
                {
                    LogInterruptedNotStored(e, turn.Conversation.Id);
                }
            }
            turn.Lease.Dispose();
            var outcome = committed && failure is null ? turn.PendingApproval is null ? "completed" : "pending_approval" : failure is null ? "interrupted" : "failed";
            telemetry.TurnCompleted(turn.Agent.Id, outcome, Stopwatch.GetElapsedTime(turn.StartedTimestamp));
            monitor.TurnFinished(Stopwatch.GetElapsedTime(turn.StartedTimestamp), failure is UpstreamModelException);
            analytics.RecordTurn(turn.Caller?.KeyId, turn.ConversationAgentId ?? turn.Agent.Id, turn.Model.Name, outcome is "failed" or "interrupted",
                Stopwatch.GetElapsedTime(turn.StartedTimestamp), turn.InputTokens, turn.OutputTokens);
            turn.Activity?.SetTag("agentry.turn.outcome", outcome).SetTag("agentry.agent.final", turn.Agent.Id);
            if (failure is not null) turn.Activity?.SetStatus(ActivityStatusCode.Error, failure.Message);
            turn.Activity?.Dispose();
        }
    }

    /// <summary>The active agent works until it answers: model calls, tool calls fed back, handoffs to other agents.</summary>
    async IAsyncEnumerable<TurnEvent> RunAgentAsync(TurnState turn, bool stream, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        while (turn.BlockedReply is null && turn.PendingApproval is null)
        {
            var step = new ModelStep();
            await foreach (var e in CallModelAsync(turn, step, stream, cancellationToken)) yield return e;
            turn.AddUsage(step.Usage);
            telemetry.TokensUsed(turn.Model.Name, turn.Agent.Id, step.Usage?.InputTokenCount ?? 0, step.Usage?.OutputTokenCount ?? 0);
            telemetry.CostIncurred(turn.Model.Name, turn.Agent.Id, analytics.Cost(turn.Model.Name, step.Usage?.InputTokenCount ?? 0, step.Usage?.OutputTokenCount ?? 0));
            if (step.Text.Length > 0)
            {
                var (text, ruleEvents) = await ApplyOutputRulesAsync(turn, step.Text, cancellationToken);
                foreach (var e in ruleEvents) yield return e;
                if (turn.BufferOutput && stream && step.Failure is null) yield return new TurnEvent(TurnEvent.Delta, new { agentId = turn.Agent.Id, text });
            }
            if (step.Failure is not null) { turn.Failure = step.Failure; break; }
            if (cancellationToken.IsCancellationRequested) break;
            if (step.Calls.Count == 0)
            {
                turn.FinishReason = step.FinishReason ?? "stop";
                break;
            }

            var results = new List<AIContent>();
            HandoffDecision? handoff = null;
            foreach (var call in step.Calls)
            {
                if (call.Name.StartsWith(HandoffPrefix, StringComparison.Ordinal))
                {
                    handoff = await DecideHandoffAsync(turn, call, cancellationToken);
                    if (handoff.Target is not null) break;
                    results.Add(new FunctionResultContent(call.CallId, handoff.Error));
                    continue;
                }

                yield return new TurnEvent(TurnEvent.ToolCall, new { agentId = turn.Agent.Id, callId = call.CallId, name = call.Name, arguments = call.Arguments });
                var verdict = ruleEngine.CheckTool(agents.EnforcedRules(turn.Agent), call.Name, call.Arguments);
                foreach (var decision in verdict.Decisions) yield return RuleEvent(turn, decision);
                if (verdict.Denied is null && verdict.NeedsApproval is { } approvalRule)
                {
                    var approval = HoldForApproval(turn, call, approvalRule, verdict.Decisions);
                    yield return new TurnEvent(TurnEvent.ApprovalPending,
                        new { approvalId = approval.Id, agentId = turn.Agent.Id, tool = call.Name, arguments = call.Arguments, rule = approvalRule.Id });
                    break;
                }
                var outcome = verdict.Denied is { } deniedBy
                    ? new ToolOutcome(ToolOutcome.Denied, $"Error: rule '{deniedBy.Id}' does not allow this call. {deniedBy.Description}".TrimEnd(), 0)
                    : turn.ToolCalls >= toolOptions.Value.MaxCallsPerTurn
                    ? new ToolOutcome(ToolOutcome.LimitReached, $"Error: this turn already made {turn.ToolCalls} tool calls, the most allowed. Answer with what you have.", 0)
                    : await toolInvoker.InvokeAsync(call, new ToolContext(turn.Conversation.Id, turn.Agent.Id, turn.Caller?.KeyId), turn.Agent.Tools, cancellationToken,
                        turn.Activity?.Context ?? default);
                turn.ToolCalls++;
                telemetry.ToolCalled(call.Name, outcome.Outcome, TimeSpan.FromMilliseconds(outcome.DurationMs));
                turn.AddTool(call, outcome, _options.MaxStoredToolResultChars, verdict.Decisions);
                results.Add(new FunctionResultContent(call.CallId, outcome.ResultForModel));
                yield return new TurnEvent(TurnEvent.ToolResult,
                    new { agentId = turn.Agent.Id, callId = call.CallId, name = call.Name, outcome = outcome.Outcome, durationMs = outcome.DurationMs, result = outcome.ResultForModel });
            }

            if (turn.PendingApproval is not null) break;
            if (handoff?.Target is { } target)
            {
                var from = turn.Agent.Id;
                await SwitchAgentAsync(turn, target, handoff.Reason, "tool", cancellationToken);
                yield return new TurnEvent(TurnEvent.Handoff, new { from, to = target.Id, reason = handoff.Reason });
                foreach (var e in await ApplyInputRulesAsync(turn, target.Rules.Where(r => r.IsEnforced), cancellationToken)) yield return e;
                continue;
            }

            turn.Context.Add(new ChatMessage(ChatRole.Assistant, [.. step.Calls]));
            turn.Context.Add(new ChatMessage(ChatRole.Tool, results));
            if (++turn.ToolRounds > toolOptions.Value.MaxCallsPerTurn + 1)
            {
                turn.FinishReason = "tool_limit";
                break;
            }
        }
    }

    /// <summary>
    /// Runs a workflow agent: <c>sequential</c> passes each member's output to the next; <c>group</c> lets members take
    /// turns (round-robin) on a shared transcript until one says the <c>until</c> phrase or the rounds run out.
    /// </summary>
    async IAsyncEnumerable<TurnEvent> RunWorkflowAsync(TurnState turn, WorkflowOptions workflow, bool stream, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var workflowAgent = turn.Agent;
        turn.ConversationAgentId = workflowAgent.Id;
        var members = new List<AgentDefinition>();
        foreach (var id in workflow.Agents)
            members.Add((await agents.FindAsync(id, db, cancellationToken))?.Definition ?? throw Problems.AgentNotFound(id));

        var conversationSoFar = turn.History.ToList();
        var contributions = new List<(string Agent, string Text)>();
        var rounds = workflow.Type == WorkflowOptions.Sequential ? members.Count : workflow.MaxRounds;
        for (var round = 0; round < rounds; round++)
        {
            var agent = members[round % members.Count];
            turn.Agent = agent;
            turn.Model = models.Resolve(agent.Model);
            turn.ToolSet = tools.Resolve(agent.Tools).ToList<AITool>(); // members answer; they do not hand off
            turn.BufferOutput = HoldsOutputBack(agent);
            turn.SystemPrompt = CompilePrompt(agent, turn.Conversation) +
                $"\n\n## Workflow\nYou are step {round + 1} of the '{workflowAgent.Name}' workflow ({workflow.Type}: {string.Join(", ", workflow.Agents)}). Do your part; others do theirs.";
            turn.Context = [.. conversationSoFar];
            if (workflow.Type == WorkflowOptions.Sequential && contributions.Count > 0)
                turn.Context.Add(new ChatMessage(ChatRole.User, $"Output of {contributions[^1].Agent}:\n{contributions[^1].Text}\n\nTake it from here."));
            else
                foreach (var (member, text) in contributions)
                    turn.Context.Add(member == agent.Id ? new ChatMessage(ChatRole.Assistant, text) : new ChatMessage(ChatRole.User, $"[{member}] {text}"));

            yield return new TurnEvent(TurnEvent.WorkflowStep, new { workflow = workflowAgent.Id, step = round + 1, agentId = agent.Id });
            var before = turn.Produced.Count;
            await foreach (var e in RunAgentAsync(turn, stream, cancellationToken)) yield return e;
            if (turn.Failure is not null || turn.PendingApproval is not null || cancellationToken.IsCancellationRequested) yield break;

            var said = turn.Produced.Skip(before).LastOrDefault(m => m.Role == MessageRoles.Assistant)?.Content ?? "";
            contributions.Add((agent.Id, said));
            if (workflow.Type == WorkflowOptions.Group && workflow.Until is { Length: > 0 } until && said.Contains(until, StringComparison.OrdinalIgnoreCase))
            {
                turn.FinishReason = "workflow_done";
                yield break;
            }
        }
        turn.FinishReason = workflow.Type == WorkflowOptions.Group ? "max_rounds" : "stop";
    }

    /// <summary>One call to the active agent's model. Streams deltas when streaming; fills <paramref name="step"/> either way.</summary>
    async IAsyncEnumerable<TurnEvent> CallModelAsync(TurnState turn, ModelStep step, bool stream, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        // The async iterator runs each step on its caller's context, so re-enter the turn span for the model call's span.
        if (turn.Activity is not null) Activity.Current = turn.Activity;
        var prompt = new List<ChatMessage>(turn.Context.Count + 1) { new(ChatRole.System, turn.SystemPrompt) };
        prompt.AddRange(turn.Context);
        var options = turn.ChatOptions();
        var text = new StringBuilder();

        if (!stream)
        {
            try
            {
                var response = await turn.Model.Client.GetResponseAsync(prompt, options, cancellationToken);
                foreach (var message in response.Messages)
                    foreach (var content in message.Contents)
                        if (content is TextContent t) text.Append(t.Text);
                        else if (content is FunctionCallContent call) step.Calls.Add(call);
                step.Usage = response.Usage;
                step.FinishReason = response.FinishReason?.Value;
            }
            catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                step.Failure = (Exception?)UpstreamModelException.TryClassify(e) ?? new InvalidOperationException("The model call failed.", e);
            }
            step.Text = text.ToString();
            yield break;
        }

        using var idle = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var idleTimeout = modelOptions.Value.Resilience.StreamIdleTimeout;
        var upstream = turn.Model.Client.GetStreamingResponseAsync(prompt, options, idle.Token).GetAsyncEnumerator(idle.Token);
        try
        {
            while (true)
            {
                idle.CancelAfter(idleTimeout);
                bool more;
                try
                {
                    more = await upstream.MoveNextAsync();
                }
                catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
                {
                    break;
                }
                catch (OperationCanceledException e) when (idle.IsCancellationRequested)
                {
                    step.Failure = UpstreamModelException.Timeout($"The model provider sent nothing for {idleTimeout.TotalSeconds:0.#} s.", e);
                    break;
                }
                catch (Exception e)
                {
                    step.Failure = UpstreamModelException.TryClassify(e) ?? e;
                    break;
                }
                if (!more) break;

                var update = upstream.Current;
                if (update.FinishReason is { } finish) step.FinishReason = finish.Value;
                foreach (var content in update.Contents)
                {
                    switch (content)
                    {
                        case TextContent { Text.Length: > 0 } delta:
                            text.Append(delta.Text);
                            step.Text = text.ToString(); // kept current, so a cut-off stream stores what the user saw
                            // With output rules the reply is held back until they have run: the user sees only the checked text.
                            if (!turn.BufferOutput) yield return new TurnEvent(TurnEvent.Delta, new { agentId = turn.Agent.Id, text = delta.Text });
                            break;
                        case FunctionCallContent call:
                            step.Calls.Add(call);
                            break;
                        case UsageContent usage:
                            step.Usage = usage.Details;
                            break;
                    }
                }
            }
        }
        finally
        {
            await upstream.DisposeAsync();
        }
        step.Text = text.ToString();
    }

    sealed class ModelStep
    {
        public string Text { get; set; } = "";
        public List<FunctionCallContent> Calls { get; } = [];
        public UsageDetails? Usage { get; set; }
        public string? FinishReason { get; set; }
        public Exception? Failure { get; set; }
    }

    sealed record HandoffDecision(AgentDefinition? Target, string Reason, string Error);

    async Task<HandoffDecision> DecideHandoffAsync(TurnState turn, FunctionCallContent call, CancellationToken cancellationToken)
    {
        var targetId = call.Name[HandoffPrefix.Length..];
        var reason = call.Arguments?.TryGetValue("reason", out var r) == true ? r?.ToString() ?? "" : "";
        if (!turn.Agent.Handoffs.Contains(targetId))
            return new HandoffDecision(null, reason, $"Error: '{targetId}' is not one of this agent's handoff targets.");
        if (turn.Hops >= _options.MaxHandoffsPerTurn)
            return new HandoffDecision(null, reason, $"Error: this turn was already handed over {turn.Hops} times, the most allowed. Answer the user yourself.");
        var target = (await agents.FindAsync(targetId, db, cancellationToken))?.Definition;
        return target is null
            ? new HandoffDecision(null, reason, $"Error: agent '{targetId}' does not exist.")
            : new HandoffDecision(target, string.IsNullOrWhiteSpace(reason) ? $"{turn.Agent.Id} transferred the conversation" : reason, "");
    }

    /// <summary>Hands the turn to another agent: recorded as a message, and the new agent starts from the shared history.</summary>
    async Task SwitchAgentAsync(TurnState turn, AgentDefinition target, string reason, string mode, CancellationToken cancellationToken)
    {
        var from = turn.Agent.Id;
        turn.AddHandoff(from, target.Id, reason, mode);
        telemetry.HandedOff(from, target.Id, mode);
        turn.Activity?.AddEvent(new ActivityEvent("agentry.handoff", tags: new ActivityTagsCollection { ["from"] = from, ["to"] = target.Id, ["mode"] = mode }));
        turn.Hops++;
        turn.Agent = target;
        turn.Model = models.Resolve(target.Model);
        await budget.EnsureAvailableAsync(turn.Caller, cancellationToken);
        // The new agent sees the conversation's text, not the previous agent's tool calls.
        turn.Context = [.. turn.History];
        turn.SystemPrompt = CompilePrompt(target, turn.Conversation) +
            $"\n\n## Handoff\nYou have just received this conversation from {from}. Reason: {reason}. Continue helping the user; do not greet them again.";
        turn.ToolSet = BuildTools(target);
        turn.BufferOutput = HoldsOutputBack(target);
    }

    /// <summary>Input rules on the user's message: it may be redacted or rewritten (what is stored and what models see), blocked, or escalated.</summary>
    async Task<List<TurnEvent>> ApplyInputRulesAsync(TurnState turn, IEnumerable<AgentRule> rules, CancellationToken cancellationToken)
    {
        var user = turn.Produced[0];
        var verdict = await ruleEngine.CheckTextAsync(RuleStages.Input, rules, user.Content, cancellationToken);
        if (verdict.Decisions.Count == 0) return [];
        if (verdict.Text != user.Content)
        {
            user.Content = verdict.Text;
            var redacted = new ChatMessage(ChatRole.User, verdict.Text);
            turn.History[^1] = redacted;
            turn.Context[turn.Context.FindLastIndex(m => m.Role == ChatRole.User)] = redacted;
        }
        turn.Decide(user, verdict.Decisions);
        if (verdict.Blocked is { } blocked)
        {
            turn.BlockedReply = blocked.Reply;
            turn.AddAssistant(blocked.Reply!);
            turn.FinishReason = "rule_blocked";
        }
        if (verdict.Escalation is { } escalation)
        {
            turn.EscalateTo = escalation.EscalateTo;
            turn.EscalationRule = escalation.Id;
            if (escalation.EscalateTo == "human")
                audit.Record("conversation.escalated", turn.Caller?.KeyId ?? "system", null, $"conversation:{turn.Conversation.Id}", "pending-human",
                    new { rule = escalation.Id, agentId = turn.Agent.Id });
        }
        return verdict.Decisions.Select(d => RuleEvent(turn, d)).ToList();
    }

    /// <summary>Output rules on a reply, then stored as the agent's message.</summary>
    async Task<(string Text, List<TurnEvent> Events)> ApplyOutputRulesAsync(TurnState turn, string text, CancellationToken cancellationToken)
    {
        var verdict = await ruleEngine.CheckTextAsync(RuleStages.Output, agents.EnforcedRules(turn.Agent), text, cancellationToken);
        var final = verdict.Blocked?.Reply ?? verdict.Text;
        var message = turn.AddAssistant(final);
        if (verdict.Decisions.Count == 0) return (final, []);
        turn.Decide(message, verdict.Decisions);
        return (final, verdict.Decisions.Select(d => RuleEvent(turn, d)).ToList());
    }

    /// <summary>Every rule decision is an SSE event, part of the message it concerns, and an audit event.</summary>
    TurnEvent RuleEvent(TurnState turn, RuleDecision decision)
    {
        telemetry.RuleDecided(decision.Rule, decision.Stage, decision.Action);
        turn.Activity?.AddEvent(new ActivityEvent("agentry.rule", tags: new ActivityTagsCollection { ["rule"] = decision.Rule, ["stage"] = decision.Stage, ["action"] = decision.Action }));
        audit.Record($"rule.{decision.Action}", turn.Caller?.KeyId ?? "system", null, $"agent:{turn.Agent.Id}", decision.Action,
            new { rule = decision.Rule, decision.Stage, decision.Detail, conversationId = turn.Conversation.Id });
        return new TurnEvent(TurnEvent.Rule, new { agentId = turn.Agent.Id, rule = decision.Rule, stage = decision.Stage, action = decision.Action, detail = decision.Detail });
    }

    Approval HoldForApproval(TurnState turn, FunctionCallContent call, AgentRule rule, IReadOnlyList<RuleDecision> decisions)
    {
        var approval = new Approval
        {
            Id = Ids.New("apr"), ConversationId = turn.Conversation.Id, AgentId = turn.Agent.Id, ToolName = call.Name, CallId = call.CallId,
            Arguments = JsonSerializer.Serialize(call.Arguments ?? new Dictionary<string, object?>()), RuleId = rule.Id, CreatedAt = time.GetUtcNow(),
        };
        db.Approvals.Add(approval); // saved with the turn
        turn.PendingApproval = approval;
        turn.AddTool(call, new ToolOutcome("pending-approval", $"Waiting for approval ({approval.Id}).", 0), _options.MaxStoredToolResultChars, decisions);
        turn.AddAssistant($"This needs a supervisor's approval before I can go ahead ({rule.Description.TrimEnd('.')}). I will continue as soon as it is decided.".Replace(" ().", ".", StringComparison.Ordinal));
        turn.FinishReason = "pending_approval";
        return approval;
    }

    async Task<TurnState> PrepareAsync(TurnRequest request, CancellationToken cancellationToken)
    {
        var conversationId = request.ConversationId ?? Ids.New(Ids.ConversationPrefix);
        var lease = gate.TryEnter(conversationId) ?? throw Busy(conversationId);
        try
        {
            Conversation conversation;
            var isNew = request.ConversationId is null;
            if (isNew)
            {
                var now = time.GetUtcNow();
                conversation = new Conversation
                {
                    Id = conversationId, AgentId = request.AgentId ?? _options.DefaultAgent, UserId = request.UserId,
                    CreatedAt = now, UpdatedAt = now, OwnerKeyId = request.Caller?.KeyId,
                };
            }
            else
            {
                conversation = await db.Conversations.FirstOrDefaultAsync(c => c.Id == conversationId, cancellationToken)
                    ?? throw Problems.ConversationNotFound(conversationId);
                if (!conversation.CanSee(request.Caller, security.Value)) throw Problems.ConversationNotFound(conversationId);
                if (await db.Approvals.AnyAsync(a => a.ConversationId == conversationId && a.Status == ApprovalStatus.Pending, cancellationToken))
                    throw new ApiProblemException(409, ProblemTypes.ApprovalPending, "Approval pending",
                        $"Conversation '{conversationId}' is waiting for a human to approve or reject a tool call; it continues once that is decided.");
            }

            var agentId = request.AgentId ?? conversation.AgentId;
            var agent = (await agents.FindAsync(agentId, db, cancellationToken))?.Definition ?? throw Problems.AgentNotFound(agentId);
            var model = models.Resolve(agent.Model);
            await budget.EnsureAvailableAsync(request.Caller, cancellationToken);

            var history = isNew ? [] : await LoadHistoryAsync(conversation.Id, cancellationToken);
            history.Add(new ChatMessage(ChatRole.User, request.Content));
            var turn = new TurnState(conversation, isNew, agent, model, history, request.Caller, lease, time.GetUtcNow())
            {
                SystemPrompt = CompilePrompt(agent, conversation),
                ToolSet = BuildTools(agent),
                IsUserTurn = true,
                BufferOutput = HoldsOutputBack(agent),
            };
            turn.Produced.Add(NewMessage(conversation.Id, MessageRoles.User, agent.Id, request.Content));
            return turn;
        }
        catch
        {
            lease.Dispose();
            throw;
        }
    }

    /// <summary>Rebuilds the stopped turn's context, records the decision, and runs (or refuses) the held tool call.</summary>
    async Task<TurnState> PrepareResumeAsync(Approval approval, bool approved, string? note, Caller? decidedBy, CancellationToken cancellationToken)
    {
        var lease = gate.TryEnter(approval.ConversationId) ?? throw Busy(approval.ConversationId);
        try
        {
            var conversation = await db.Conversations.FirstOrDefaultAsync(c => c.Id == approval.ConversationId, cancellationToken)
                ?? throw Problems.ConversationNotFound(approval.ConversationId);
            var agent = (await agents.FindAsync(approval.AgentId, db, cancellationToken))?.Definition ?? throw Problems.AgentNotFound(approval.AgentId);
            var model = models.Resolve(agent.Model);
            var history = await LoadHistoryAsync(conversation.Id, cancellationToken);
            var turn = new TurnState(conversation, false, agent, model, history, decidedBy, lease, time.GetUtcNow())
            {
                SystemPrompt = CompilePrompt(agent, conversation),
                ToolSet = BuildTools(agent),
                BufferOutput = HoldsOutputBack(agent),
            };

            approval.Status = approved ? ApprovalStatus.Approved : ApprovalStatus.Rejected;
            approval.DecidedAt = time.GetUtcNow();
            approval.DecidedBy = decidedBy?.KeyId ?? "system";
            approval.Note = note;
            var arguments = JsonSerializer.Deserialize<Dictionary<string, object?>>(approval.Arguments) ?? [];
            var call = new FunctionCallContent(approval.CallId, approval.ToolName, arguments);
            var outcome = approved
                ? await toolInvoker.InvokeAsync(call, new ToolContext(conversation.Id, agent.Id, conversation.OwnerKeyId), agent.Tools, cancellationToken)
                : new ToolOutcome(ToolOutcome.Denied, $"Error: a supervisor rejected this call.{(string.IsNullOrWhiteSpace(note) ? "" : $" Note: {note}")}", 0);
            turn.ToolCalls++;
            turn.AddTool(call, outcome, _options.MaxStoredToolResultChars, []);
            turn.Context.Add(new ChatMessage(ChatRole.Assistant, [call]));
            turn.Context.Add(new ChatMessage(ChatRole.Tool, [new FunctionResultContent(call.CallId, outcome.ResultForModel)]));
            audit.Record(approved ? "approval.approved" : "approval.rejected", decidedBy?.KeyId ?? "system", null, $"approval:{approval.Id}", approval.Status,
                new { approval.ConversationId, approval.ToolName, approval.RuleId, note, toolOutcome = outcome.Outcome });
            return turn;
        }
        catch
        {
            lease.Dispose();
            throw;
        }
    }

    /// <summary>With output rules a streamed reply is held back until they have run, so the user sees only the checked text.</summary>
    bool HoldsOutputBack(AgentDefinition agent) => agents.EnforcedRules(agent).Any(r => r.Stage == RuleStages.Output);

    /// <summary>The agent's tools plus one <c>transfer_to_AGENT</c> declaration per handoff target.</summary>
    List<AITool> BuildTools(AgentDefinition agent)
    {
        var set = tools.Resolve(agent.Tools).ToList<AITool>();
        foreach (var target in agent.Handoffs)
            set.Add(AIFunctionFactory.CreateDeclaration($"{HandoffPrefix}{target}",
                $"Transfer the conversation to the '{target}' agent when it is better placed to help.", HandoffSchema));
        return set;
    }

    static readonly JsonElement HandoffSchema = JsonDocument.Parse("""
        {"type":"object","properties":{"reason":{"type":"string","description":"Why the other agent should take over"}},"required":["reason"]}
        """).RootElement.Clone();

    /// <summary>The newest messages that carry text, oldest first; reads one index range however long the conversation is.</summary>
    async Task<List<ChatMessage>> LoadHistoryAsync(string conversationId, CancellationToken cancellationToken)
    {
        var recent = await db.Messages.AsNoTracking()
            .Where(m => m.ConversationId == conversationId && (m.Role == MessageRoles.User || m.Role == MessageRoles.Assistant) && m.Content != "")
            .OrderByDescending(m => m.Sequence)
            .Take(_options.HistoryLimit)
            .Select(m => new { m.Role, m.Content })
            .ToListAsync(cancellationToken);
        recent.Reverse();
        return recent.Select(m => new ChatMessage(m.Role == MessageRoles.User ? ChatRole.User : ChatRole.Assistant, m.Content)).ToList();
    }

    async Task<List<Message>> CommitAsync(TurnState turn, string status, string? finishReasonOverride)
    {
        var now = time.GetUtcNow();
        var conversation = turn.Conversation;
        var stored = turn.Produced;

        // Every turn ends with one assistant message carrying the model facts, even when the model said nothing.
        var last = stored[^1].Role == MessageRoles.Assistant ? stored[^1] : null;
        if (last is null) stored.Add(last = NewMessage(conversation.Id, MessageRoles.Assistant, turn.Agent.Id, ""));
        last.Model = turn.Model.Name;
        last.InputTokens = (int)turn.InputTokens;
        last.OutputTokens = (int)turn.OutputTokens;
        last.LatencyMs = (int)Stopwatch.GetElapsedTime(turn.StartedTimestamp).TotalMilliseconds;
        last.FinishReason = finishReasonOverride ?? turn.FinishReason ?? "stop";
        last.Status = status;

        var sequence = conversation.LastSequence;
        foreach (var message in stored)
        {
            message.Sequence = ++sequence;
            message.CreatedAt = now;
            if (turn.Decisions.TryGetValue(message, out var decisions))
            {
                var metadata = message.Metadata is null ? new System.Text.Json.Nodes.JsonObject() : System.Text.Json.Nodes.JsonNode.Parse(message.Metadata)!.AsObject();
                metadata["rules"] = JsonSerializer.SerializeToNode(decisions, RuleJson);
                message.Metadata = metadata.ToJsonString();
            }
        }
        conversation.LastSequence = sequence;
        conversation.UpdatedAt = now;
        conversation.AgentId = turn.ConversationAgentId ?? turn.Agent.Id;
        if (turn.IsNew) db.Conversations.Add(conversation);
        db.Messages.AddRange(stored);
        try
        {
            await db.SaveChangesAsync(CancellationToken.None); // once the model has answered, a disconnect must not lose the turn
        }
        catch (DbUpdateConcurrencyException)
        {
            db.ChangeTracker.Clear();
            throw new ApiProblemException(409, ProblemTypes.ConversationBusy, "Conversation changed",
                $"Conversation '{conversation.Id}' was changed or deleted by another request during this turn; reload it and retry.");
        }
        // Charged after the commit, with what the provider reported: the budget counts real usage, including interrupted turns.
        await budget.ChargeAsync(turn.Caller, turn.InputTokens + turn.OutputTokens, CancellationToken.None);
        return stored;
    }

    static readonly JsonSerializerOptions RuleJson = new(JsonSerializerDefaults.Web);

    /// <summary>The agent's prompt with the conversation's personality overrides, where the agent allows them.</summary>
    static string CompilePrompt(AgentDefinition agent, Conversation conversation)
    {
        if (conversation.PersonalityOverride is null) return SystemPrompt.Compile(agent);
        var overrides = JsonSerializer.Deserialize<Personality>(conversation.PersonalityOverride, RuleJson);
        return SystemPrompt.Compile(agent with { Personality = agent.Personality.With(overrides) });
    }

    /// <summary>The offline model's /tool and /handoff directives are addressed to the current agent, so routing leaves them alone.</summary>
    static bool IsDirective(string content) =>
        content.StartsWith("/tool", StringComparison.OrdinalIgnoreCase) || content.StartsWith("/handoff", StringComparison.OrdinalIgnoreCase);

    static Message NewMessage(string conversationId, string role, string agentId, string content) => new()
    {
        Id = Ids.New(Ids.MessagePrefix), ConversationId = conversationId, Role = role, AgentId = agentId, Content = content,
    };

    static TurnDto ToDto(TurnState turn, List<Message> stored) =>
        new(turn.Conversation.Id, turn.ConversationAgentId ?? turn.Agent.Id, stored.Select(MessageDto.From).ToList(),
            new UsageDto((int)turn.InputTokens, (int)turn.OutputTokens), turn.Model.Name)
        {
            Status = turn.PendingApproval is null ? "completed" : "pending_approval",
            PendingApprovalId = turn.PendingApproval?.Id,
        };

    static ApiProblemException Busy(string conversationId) =>
        new(409, ProblemTypes.ConversationBusy, "Conversation busy",
            $"Conversation '{conversationId}' is already answering another message; wait for that turn to finish, then retry.")
        { RetryAfter = TimeSpan.FromSeconds(1) };

    [LoggerMessage(EventId = 3000, Level = LogLevel.Warning, Message = "Turn in {ConversationId} failed after producing output; partial turn stored as interrupted")]
    partial void LogTurnFailed(Exception exception, string conversationId);

    [LoggerMessage(EventId = 3001, Level = LogLevel.Warning, Message = "Could not store the interrupted turn of {ConversationId}")]
    partial void LogInterruptedNotStored(Exception exception, string conversationId);
}
