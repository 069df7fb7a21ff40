using Agentry.Approvals;
using Agentry.Conversations;
using Agentry.Observability;
using Agentry.Rules;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;

namespace Agentry.Tools;

/// <summary>
/// One tool call of a turn: the tool rules decide (allow, deny, hold for a human), the per-turn limit applies, then the
/// tool runs. The call and its result are SSE events and a stored tool message; the result goes back to the model.
/// </summary>
public sealed class ToolStep(TurnRules rules, ToolPolicies policies, ToolInvoker invoker, ApprovalFlow approvals, AgentryTelemetry telemetry, IOptions<ToolOptions> tools,
    IOptions<ConversationOptions> conversations, ToolCatalog catalog)
{
    /// <summary>The result for the model; when a rule holds the call for approval the turn ends there instead.</summary>
    public async Task<AIContent> RunAsync(Turn turn, FunctionCallContent call, TurnEvents events, CancellationToken cancellationToken)
    {
        // From here on an MCP tool goes by its Agentry name (mcp:server/tool), whatever function name the model used:
        // rules, policies, approvals, events and the stored record all see the name an operator writes.
        if (catalog.CanonicalName(call.Name) is var canonical && canonical != call.Name)
            call = new FunctionCallContent(call.CallId, canonical, call.Arguments);
        events.Emit(TurnEvent.ToolCall, new { agentId = turn.Agent.Id, callId = call.CallId, name = call.Name, arguments = call.Arguments });
        var verdict = rules.CheckTool(turn, call, events);
        // The tool's own policy, whichever agent calls it: a limit the agent's rules did not already stop.
        var policy = verdict.Denied is null && verdict.NeedsApproval is null ? await policies.CheckAsync(turn, call, cancellationToken) : PolicyVerdict.Allowed;
        if (policy.Kind == PolicyVerdict.RequireApproval) verdict = verdict with { NeedsApproval = policy.AsRule(call.Name) };
        if (policy.Kind == PolicyVerdict.Deny) verdict = verdict with { Denied = policy.AsRule(call.Name) };
        if (verdict.Denied is null && verdict.NeedsApproval is { } approvalRule)
        {
            var approval = approvals.Hold(turn, call, approvalRule, verdict.Decisions);
            events.Emit(TurnEvent.ApprovalPending,
                new { approvalId = approval.Id, agentId = turn.Agent.Id, tool = call.Name, arguments = call.Arguments, rule = approvalRule.Id });
            return new FunctionResultContent(call.CallId, $"Waiting for approval ({approval.Id}).");
        }

        var outcome = verdict.Denied is { } deniedBy
            ? new ToolOutcome(ToolOutcome.Denied, $"Error: rule '{deniedBy.Id}' does not allow this call. {deniedBy.Description}".TrimEnd(), 0)
            : policy.Kind == PolicyVerdict.AlreadyDone
            ? new ToolOutcome(ToolOutcome.AlreadyDone, $"Already done earlier in this conversation (not repeated): {policy.PreviousResult}", 0)
            : turn.ToolCalls >= tools.Value.MaxCallsPerTurn
            ? new ToolOutcome(ToolOutcome.LimitReached, $"Error: this turn already made {turn.ToolCalls} tool calls, the most allowed. Answer with what you have.", 0)
            : await invoker.InvokeAsync(call, new ToolContext(turn.Conversation.Id, turn.Agent.Id, turn.Caller?.KeyId), turn.Agent.Tools, cancellationToken);
        turn.CountToolCall();
        telemetry.ToolCalled(call.Name, outcome.Outcome, TimeSpan.FromMilliseconds(outcome.DurationMs));
        var checkedResult = outcome.FromTool ? await rules.CheckToolResultAsync(turn, outcome, events, cancellationToken) : (outcome, []);
        outcome = checkedResult.Outcome;
        turn.AddToolResult(call, outcome, conversations.Value.MaxStoredToolResultChars, [.. verdict.Decisions, .. checkedResult.Decisions]);
        events.Emit(TurnEvent.ToolResult,
            new { agentId = turn.Agent.Id, callId = call.CallId, name = call.Name, outcome = outcome.Outcome, durationMs = outcome.DurationMs, result = outcome.ResultForModel });
        return outcome.ForModel(call);
    }
}
