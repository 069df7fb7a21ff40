using Agentry.Audit;
using Agentry.Conversations;
using Agentry.Observability;
using Agentry.Rules;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;

namespace Agentry.Tools;

/// <summary>
/// The one sequence that finishes a tool call, whether the model just asked for it (<see cref="ToolStep"/>) or a human
/// decided a held one (Approvals/): run it, or take the outcome Agentry decided instead (refused, already done, over the
/// limit); count it; record its telemetry; let the input rules check what the tool returned; and record the result on the
/// turn (the tool message, its rule decisions, its ledger row, the audit events the tool reported).
/// </summary>
public sealed class ToolExecution(ToolInvoker invoker, ToolCatalog catalog, TurnRules rules, AgentryTelemetry telemetry, IOptions<ConversationOptions> conversations)
{
    /// <summary>The outcome of a call an eval run recorded instead of making.</summary>
    public const string DryRun = "dry-run";

    public async Task<ToolOutcome> CompleteAsync(Turn turn, FunctionCallContent call, ToolOutcome? decided, TurnToolCall ledger,
        IReadOnlyList<RuleDecision> decisions, TurnEvents events, CancellationToken cancellationToken)
    {
        var outcome = decided;
        if (outcome is null)
        {
            var context = new ToolContext(turn.Conversation.Id, turn.Agent.Id, turn.Caller.KeyId)
            {
                UserId = turn.Conversation.UserId, MemoryScope = turn.Agent.Memory, MemoryOwner = Memory.MemoryScopes.Owner(turn.Agent),
                // An eval run asserts on the call, it does not make it: the case's declared result (or a note) stands in.
                DryRunResult = turn.IsEval && catalog.HasSideEffects(call.Name)
                    ? turn.DeclaredToolResults.GetValueOrDefault(call.Name) ?? $"(dry run: {call.Name} was not run, this is an evaluation; the call is recorded with its arguments)"
                    : null,
            };
            outcome = await invoker.InvokeAsync(call, context, [.. turn.Agent.EffectiveTools], cancellationToken);
            foreach (var effect in context.Effects) turn.Audit(AuditActor.For(turn.Caller), effect.Action, effect.Target, effect.Outcome, effect.Detail);
            foreach (var note in context.Remembered) turn.Remember(note);
        }
        turn.CountToolCall();
        // A name the model invented is not a tool: it is counted as "unknown", so it cannot grow the metric's label set.
        telemetry.ToolCalled(outcome.Outcome == ToolOutcome.UnknownTool ? "unknown" : call.Name, outcome.Outcome, TimeSpan.FromMilliseconds(outcome.DurationMs));
        var (checkedOutcome, resultDecisions) = outcome.FromTool ? await rules.CheckToolResultAsync(turn, outcome, events, cancellationToken) : (outcome, []);
        turn.AddToolResult(call, checkedOutcome, conversations.Value.MaxStoredToolResultChars, [.. decisions, .. resultDecisions], ledger);
        events.Emit(TurnEvent.ToolResult, new
        {
            agentId = turn.Agent.Id, callId = call.CallId, name = call.Name, outcome = checkedOutcome.Outcome, durationMs = checkedOutcome.DurationMs,
            result = checkedOutcome.ResultForModel,
        });
        return checkedOutcome;
    }
}
