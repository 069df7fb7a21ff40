using System.Diagnostics;
using System.Text.Json;
using Agentry.Conversations;
using Agentry.Models;
using Agentry.Observability;
using Agentry.Rules;
using Agentry.Security;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;

namespace Agentry.Agents;

/// <summary>
/// Every way a conversation moves to another agent within a turn: an escalation rule, a router agent's semantic choice,
/// or the model calling <c>transfer_to_AGENT</c>. All go through <see cref="HandOffAsync"/>, so each is recorded, counted
/// and followed by the new agent's own input rules in exactly the same way.
/// </summary>
public sealed class Handoffs(
    AgentCatalog agents, ModelCatalog models, TurnRules rules, SemanticRouter router, AgentryTelemetry telemetry,
    IOptions<ConversationOptions> options)
{
    public const string TransferPrefix = "transfer_to_";

    static readonly JsonElement TransferSchema = JsonDocument.Parse("""
        {"type":"object","properties":{"reason":{"type":"string","description":"Why the other agent should take over"}},"required":["reason"]}
        """).RootElement.Clone();

    public static bool IsTransfer(FunctionCallContent call) => call.Name.StartsWith(TransferPrefix, StringComparison.Ordinal);

    /// <summary>One <c>transfer_to_AGENT</c> tool declaration per handoff target, offered to the agent's model.</summary>
    public static IEnumerable<AITool> Declarations(AgentDefinition agent) => agent.Handoffs.Select(target =>
        AIFunctionFactory.CreateDeclaration($"{TransferPrefix}{target}", $"Transfer the conversation to the '{target}' agent when it is better placed to help.", TransferSchema));

    /// <summary>Before the agent answers: an escalation rule, then a router agent's semantic choice, may hand the turn on.</summary>
    public async Task RouteAsync(Turn turn, InputVerdict input, TurnEvents events, CancellationToken cancellationToken)
    {
        await EscalateAsync(turn, input, events, cancellationToken);
        // A directive of the offline model (/tool, /handoff) is addressed to the agent it was sent to: routing leaves it alone.
        if (turn.Ended || !turn.Agent.Routing.IsSemantic || OfflineChatClient.IsDirectiveFor(turn.Model.Client, turn.UserMessage!.Content)) return;
        // A router agent decides by embedding similarity, with no model call; the chosen agent answers this same turn.
        var targets = new List<AgentDefinition>();
        foreach (var id in turn.Agent.Handoffs)
            if ((await agents.FindAsync(id, cancellationToken))?.Definition is { } target) targets.Add(target);
        var route = await router.RouteAsync(turn.Agent, turn.UserMessage.Content, targets, cancellationToken);
        var chosen = route.Target ?? turn.Agent.Routing.Fallback;
        if (chosen is not null && chosen != turn.Agent.Id && (targets.FirstOrDefault(t => t.Id == chosen) ?? (await agents.FindAsync(chosen, cancellationToken))?.Definition) is { } routed)
            await HandOffAsync(turn, routed, new Handoff(turn.Agent.Id, routed.Id, route.Reason, "semantic", route.Score), events, cancellationToken);
    }

    /// <summary>
    /// The model asked to transfer the conversation. Returns null once the target has taken over, or the refusal the
    /// model reads instead (not a target of this agent, the hop limit reached, no such agent).
    /// </summary>
    public async Task<FunctionResultContent?> TransferAsync(Turn turn, FunctionCallContent call, TurnEvents events, CancellationToken cancellationToken)
    {
        var targetId = call.Name[TransferPrefix.Length..];
        var reason = call.Arguments?.TryGetValue("reason", out var r) == true ? r?.ToString() ?? "" : "";
        if (!turn.Agent.Handoffs.Contains(targetId))
            return new FunctionResultContent(call.CallId, $"Error: '{targetId}' is not one of this agent's handoff targets.");
        if (turn.Hops >= options.Value.MaxHandoffsPerTurn)
            return new FunctionResultContent(call.CallId, $"Error: this turn was already handed over {turn.Hops} times, the most allowed. Answer the user yourself.");
        if ((await agents.FindAsync(targetId, cancellationToken))?.Definition is not { } target)
            return new FunctionResultContent(call.CallId, $"Error: agent '{targetId}' does not exist.");
        if (string.IsNullOrWhiteSpace(reason)) reason = $"{turn.Agent.Id} transferred the conversation";
        await HandOffAsync(turn, target, new Handoff(turn.Agent.Id, target.Id, reason, "tool"), events, cancellationToken);
        return null;
    }

    /// <summary>
    /// Hands the turn to <paramref name="target"/>: recorded as a message and an event, then the target's own input rules
    /// run, and what they decide holds as it would for the first agent: a block ends the turn, an escalation hands on again
    /// (within the turn's handoff limit).
    /// </summary>
    public async Task HandOffAsync(Turn turn, AgentDefinition target, Handoff handoff, TurnEvents events, CancellationToken cancellationToken)
    {
        turn.SwitchTo(target, models.Resolve(turn.ModelFor(target)), handoff);
        telemetry.HandedOff(handoff.From, handoff.To, handoff.Mode);
        Activity.Current?.AddEvent(new ActivityEvent("agentry.handoff", tags: new ActivityTagsCollection { ["from"] = handoff.From, ["to"] = handoff.To, ["mode"] = handoff.Mode }));
        events.Emit(TurnEvent.Handoff, new { from = handoff.From, to = handoff.To, reason = handoff.Reason, mode = handoff.Mode, score = handoff.Score });
        if (!turn.IsUserTurn) return;
        var input = await rules.ApplyInputAsync(turn, includeGlobal: false, events, cancellationToken);
        await EscalateAsync(turn, input, events, cancellationToken);
    }

    /// <summary>An input rule's escalation to another agent: that agent takes over (an escalation to a person is audited by the rules).</summary>
    async Task EscalateAsync(Turn turn, InputVerdict input, TurnEvents events, CancellationToken cancellationToken)
    {
        if (turn.Ended || input.Escalation is not { EscalateTo: { } to } rule || to == RuleActions.HumanTarget || to == turn.Agent.Id) return;
        if (turn.Hops >= options.Value.MaxHandoffsPerTurn) return; // two agents escalating to each other stop here, and the current one answers
        if ((await agents.FindAsync(to, cancellationToken))?.Definition is not { } escalated) return;
        await HandOffAsync(turn, escalated, new Handoff(turn.Agent.Id, to, $"rule {rule.Id} escalated the conversation", "rule"), events, cancellationToken);
    }
}
