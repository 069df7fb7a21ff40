using System.Diagnostics;
using Agentry.Agents;
using Agentry.Audit;
using Agentry.Conversations;
using Agentry.Observability;
using Microsoft.Extensions.AI;

namespace Agentry.Rules;

/// <summary>What the input rules decided beyond rewriting the message: an escalation to another agent.</summary>
public sealed record InputVerdict(AgentRule? Escalation)
{
    public static InputVerdict None { get; } = new((AgentRule?)null);
}

/// <summary>
/// The business rules at each point of a turn: input rules on the user's message, output rules on each reply, tool
/// rules on each call. Every decision becomes an SSE event, part of the message it concerns, a metric, a span event and
/// a fact on the turn, which its commit audits (Conversations/TurnAudit.cs).
/// </summary>
public sealed class TurnRules(RuleEngine engine, AgentCatalog agents, AgentryTelemetry telemetry)
{
    /// <summary>With output rules a streamed reply is held back until they have run, so the user sees only the checked text.</summary>
    public bool HoldsOutputBack(AgentDefinition agent) => agents.EnforcedRules(agent).Any(r => r.Stage == RuleStages.Output);

    /// <summary>
    /// Input rules on the user's message: it may be redacted or rewritten (what is stored and what models see), blocked
    /// (the turn ends with the rule's reply) or escalated. The global rules run once per turn, before the first agent's;
    /// an agent that takes over applies its own.
    /// </summary>
    public async Task<InputVerdict> ApplyInputAsync(Turn turn, bool includeGlobal, TurnEvents events, CancellationToken cancellationToken)
    {
        var user = turn.UserMessage!;
        var rules = includeGlobal ? agents.EnforcedRules(turn.Agent) : turn.Agent.Rules.Where(r => r.IsEnforced);
        // A stateless client's earlier messages are the user's words too: redacted or blocked by the same rules before any model reads them.
        if (includeGlobal && await ApplyToTranscriptAsync(turn, rules.ToList(), events, cancellationToken)) return InputVerdict.None;
        var verdict = await engine.CheckTextAsync(RuleStages.Input, rules, user.Content, cancellationToken);
        if (verdict.Decisions.Count == 0) return InputVerdict.None;
        if (verdict.Text != user.Content) turn.RewriteUserMessage(verdict.Text);
        Record(turn, user, verdict.Decisions, events);
        if (verdict.Blocked is { } blocked)
        {
            turn.AddReply(blocked.Reply!);
            turn.Finish("rule_blocked");
        }
        if (verdict.Escalation is { EscalateTo: RuleActions.HumanTarget } toHuman)
            turn.Audit(AuditActor.For(turn.Caller), AuditActions.ConversationEscalated, $"conversation:{turn.Conversation.Id}", AuditActions.PendingHuman,
                new { rule = toHuman.Id, agentId = turn.Agent.Id });
        return new InputVerdict(verdict.Escalation);
    }

    /// <summary>Input rules on the user messages of the client's transcript; true when one blocked the turn.</summary>
    async Task<bool> ApplyToTranscriptAsync(Turn turn, List<AgentRule> rules, TurnEvents events, CancellationToken cancellationToken)
    {
        foreach (var said in turn.Prelude.Where(m => m.Role == MessageRoles.User))
        {
            var verdict = await engine.CheckTextAsync(RuleStages.Input, rules, said.Content, cancellationToken);
            if (verdict.Decisions.Count == 0) continue;
            if (verdict.Text != said.Content) turn.RewritePrelude(said, verdict.Text);
            Record(turn, said, verdict.Decisions, events);
            if (verdict.Blocked is { } blocked)
            {
                turn.AddReply(blocked.Reply!);
                turn.Finish("rule_blocked");
                return true;
            }
        }
        return false;
    }

    /// <summary>
    /// The results of the client's own functions are tool results like any other: the input rules marked
    /// <c>checkToolResults</c> withhold or rewrite them before the model reads them.
    /// </summary>
    public async Task CheckClientToolResultsAsync(Turn turn, TurnEvents events, CancellationToken cancellationToken)
    {
        if (turn.ClientToolRound is not { } round) return;
        foreach (var call in round.Calls)
        {
            var text = turn.ClientResultOf(call.CallId).Content;
            var (checkedOutcome, decisions) = await CheckToolResultAsync(turn, new Tools.ToolOutcome(Tools.ToolOutcome.Success, text, 0), events, cancellationToken);
            if (decisions.Count > 0) turn.ReviseClientResult(call.CallId, checkedOutcome.ResultForModel, decisions);
        }
    }

    /// <summary>Output rules on a reply, which is then recorded as the agent's message; returns the text the user gets.</summary>
    public async Task<string> ApplyOutputAsync(Turn turn, string text, TurnEvents events, CancellationToken cancellationToken)
    {
        var verdict = await engine.CheckTextAsync(RuleStages.Output, agents.EnforcedRules(turn.Agent), text, cancellationToken);
        var final = verdict.Blocked?.Reply ?? verdict.Text;
        var message = turn.AddReply(final);
        Record(turn, message, verdict.Decisions, events);
        return final;
    }

    /// <summary>
    /// Input rules marked <c>checkToolResults</c> on what a tool returned, before the model reads it: a block withholds
    /// the result, a redaction or rewrite changes it. The decisions are reported and returned for the tool's message.
    /// </summary>
    public async Task<(Tools.ToolOutcome Outcome, IReadOnlyList<RuleDecision> Decisions)> CheckToolResultAsync(Turn turn, Tools.ToolOutcome outcome,
        TurnEvents events, CancellationToken cancellationToken)
    {
        var rules = agents.EnforcedRules(turn.Agent).Where(r => r.CheckToolResults).ToList();
        if (rules.Count == 0) return (outcome, []);
        var verdict = await engine.CheckTextAsync(RuleStages.Input, rules, outcome.ResultForModel, cancellationToken);
        foreach (var decision in verdict.Decisions) Report(turn, decision, events);
        if (verdict.Blocked is { } blocked)
            return (outcome with
            {
                Outcome = Tools.ToolOutcome.Withheld,
                ResultForModel = $"Error: the tool's result was withheld because rule '{blocked.Id}' found it unsafe to read ({verdict.Decisions.First(d => d.Rule == blocked.Id).Detail}).",
            }, verdict.Decisions);
        return (outcome with { ResultForModel = verdict.Text }, verdict.Decisions);
    }

    /// <summary>Tool rules on a call: allowed, denied, or held for a human. The decisions are shown with the tool's message.</summary>
    public ToolVerdict CheckTool(Turn turn, FunctionCallContent call, TurnEvents events)
    {
        var verdict = engine.CheckTool(agents.EnforcedRules(turn.Agent), call.Name, call.Arguments);
        foreach (var decision in verdict.Decisions) Report(turn, decision, events);
        return verdict;
    }

    void Record(Turn turn, Message message, IReadOnlyList<RuleDecision> decisions, TurnEvents events)
    {
        if (decisions.Count == 0) return;
        turn.Annotate(message, decisions);
        foreach (var decision in decisions) Report(turn, decision, events);
    }

    void Report(Turn turn, RuleDecision decision, TurnEvents events)
    {
        telemetry.RuleDecided(decision.Rule, decision.Stage, decision.Action);
        Activity.Current?.AddEvent(new ActivityEvent("agentry.rule",
            tags: new ActivityTagsCollection { ["rule"] = decision.Rule, ["stage"] = decision.Stage, ["action"] = decision.Action }));
        turn.Decide(decision);
        events.Emit(TurnEvent.Rule, new { agentId = turn.Agent.Id, rule = decision.Rule, stage = decision.Stage, action = decision.Action, detail = decision.Detail });
    }
}
