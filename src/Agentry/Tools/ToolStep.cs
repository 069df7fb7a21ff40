using Agentry.Approvals;
using Agentry.Conversations;
using Agentry.Rules;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;

namespace Agentry.Tools;

/// <summary>
/// One tool call a model asked for: its arguments are normalised to what the tool will receive, the tool rules and the
/// tool's policy decide (refuse, hold for a human, answer with an earlier result, or run, reserved in the ledger), the
/// per-turn limit applies, and <see cref="ToolExecution"/> finishes it. The call and its result are SSE events and a
/// stored tool message; the result goes back to the model.
/// </summary>
public sealed class ToolStep(TurnRules rules, ToolLedger ledger, ToolExecution execution, ApprovalFlow approvals, ToolCatalog catalog, IOptions<ToolOptions> tools)
{
    /// <summary>The result for the model; when a rule or policy holds the call for approval the turn ends there instead.</summary>
    public async Task<AIContent> RunAsync(Turn turn, FunctionCallContent call, TurnEvents events, CancellationToken cancellationToken)
    {
        // From here on an MCP tool goes by its Agentry name (mcp:server/tool), whatever function name the model used, and
        // the arguments are what the tool will read: rules, the policy, an approval, the ledger and the tool see one value.
        var name = catalog.CanonicalName(call.Name);
        var arguments = ToolArguments.Normalize(call.Arguments, catalog.Find(name)?.JsonSchema);
        call = new FunctionCallContent(call.CallId, name, arguments);
        var canonical = ToolArguments.Canonical(arguments);
        events.Emit(TurnEvent.ToolCall, new { agentId = turn.Agent.Id, callId = call.CallId, name = call.Name, arguments = call.Arguments });

        var verdict = rules.CheckTool(turn, call, events);
        var heldByRule = verdict.Denied is null ? verdict.NeedsApproval : null;
        var withinTurnLimit = turn.ToolCallCount < tools.Value.MaxCallsPerTurn;
        // The policy is always asked, so its refusals hold whatever the rules said; it reserves only a call about to run.
        var policy = await ledger.DecideAsync(turn, call, canonical, reserve: verdict.Denied is null && heldByRule is null && withinTurnLimit && !turn.IsEval, cancellationToken);
        var ledgerRow = policy.Reservation is { } reserved ? new TurnToolCall(reserved, Reserved: true) : new TurnToolCall(ledger.Row(turn, call, canonical), Reserved: false);

        // Refusals first: no approval can let through what a rule denies or what is above the policy's per-call maximum.
        var denied = verdict.Denied ?? (policy.Verdict.Kind == PolicyVerdict.Deny ? policy.Verdict.AsRule(call.Name) : null);
        if (denied is null && (heldByRule ?? (policy.Verdict.Kind == PolicyVerdict.RequireApproval ? policy.Verdict.AsRule(call.Name) : null)) is { } approvalRule)
        {
            var approval = approvals.Hold(turn, call, canonical, approvalRule, verdict.Decisions, ledgerRow);
            events.Emit(TurnEvent.ApprovalPending,
                new { approvalId = approval.Id, agentId = turn.Agent.Id, tool = call.Name, arguments = call.Arguments, rule = approvalRule.Id });
            return new FunctionResultContent(call.CallId, $"Waiting for approval ({approval.Id}).");
        }

        ToolOutcome? decided = denied is { } deniedBy
            ? ToolOutcome.NotRun(ToolOutcome.Denied, $"Error: rule '{deniedBy.Id}' does not allow this call. {deniedBy.Description}".TrimEnd())
            : policy.Verdict.Kind == PolicyVerdict.AlreadyDone
            ? ToolOutcome.NotRun(ToolOutcome.AlreadyDone, $"Already done earlier in this conversation (not repeated): {policy.Verdict.PreviousResult}")
            : !withinTurnLimit
            ? ToolOutcome.NotRun(ToolOutcome.LimitReached, $"Error: this turn already made {turn.ToolCallCount} tool calls, the most allowed. Answer with what you have.")
            : null;
        var outcome = await execution.CompleteAsync(turn, call, decided, ledgerRow, verdict.Decisions, events, cancellationToken);
        return outcome.ForModel(call);
    }
}
