using Agentry.Audit;

namespace Agentry.Conversations;

/// <summary>
/// The audit events of a turn, derived from what the turn records (<see cref="Turn.Decisions"/>,
/// <see cref="Turn.AuditFacts"/>) when it is committed: no step stages rows of its own.
/// </summary>
public static class TurnAudit
{
    public static IEnumerable<AuditOutboxEntry> Events(Turn turn, AuditLog audit)
    {
        var caller = AuditActor.For(turn.Caller) with { TraceId = turn.TraceId ?? System.Diagnostics.Activity.Current?.TraceId.ToString() };
        foreach (var (agentId, decision) in turn.Decisions)
            yield return audit.Entry(caller, AuditActions.Rule(decision.Action), $"agent:{agentId}", decision.Action,
                new { rule = decision.Rule, decision.Stage, decision.Detail, conversationId = turn.Conversation.Id });
        foreach (var fact in turn.AuditFacts)
            yield return audit.Entry(fact.Actor.TraceId is null ? fact.Actor with { TraceId = caller.TraceId } : fact.Actor, fact.Action, fact.Target, fact.Outcome, fact.Detail);
    }
}
