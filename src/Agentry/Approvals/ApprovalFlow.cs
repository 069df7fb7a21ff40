using System.Text.Json;
using Agentry.Audit;
using Agentry.Conversations;
using Agentry.Conversations.Context;
using Agentry.Data;
using Agentry.Rules;
using Agentry.Security;
using Agentry.Tools;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;

namespace Agentry.Approvals;

/// <summary>A human's decision on a held tool call.</summary>
public sealed record ApprovalVerdict(bool Approved, string? Note, Caller DecidedBy);

/// <summary>
/// Tool calls a rule or policy holds for a human (a refund over a limit): the turn stops at the call with a message saying
/// so, and continues, in a new turn, once someone approves (the tool runs) or rejects it (the model is told it was
/// refused). What is held, decided and run is recorded on the turn; its commit stores it.
/// </summary>
public sealed class ApprovalFlow(AgentryDbContext db, ToolLedger ledger, ToolExecution execution, TimeProvider time, IOptions<ConversationOptions> options)
{
    /// <summary>Holds the call: an approval, a pending tool message and a reply, recorded on the turn, which ends here.</summary>
    public Approval Hold(Turn turn, FunctionCallContent call, string canonicalArguments, AgentRule rule, IReadOnlyList<RuleDecision> decisions, TurnToolCall ledgerRow)
    {
        var approval = new Approval
        {
            Id = Ids.New("apr"), ConversationId = turn.Conversation.Id, AgentId = turn.Agent.Id, ToolName = call.Name, CallId = call.CallId,
            Arguments = canonicalArguments, RuleId = rule.Id, CreatedAt = time.GetUtcNow(),
        };
        turn.AddToolResult(call, ToolOutcome.NotRun(ToolOutcome.PendingApproval, $"Waiting for approval ({approval.Id})."), options.Value.MaxStoredToolResultChars,
            decisions, ledgerRow);
        turn.AddReply($"This needs a supervisor's approval before I can go ahead ({rule.Description.TrimEnd('.')}). I will continue as soon as it is decided."
            .Replace(" ().", ".", StringComparison.Ordinal));
        turn.Hold(approval);
        return approval;
    }

    /// <summary>
    /// Records the decision on a pending approval with one conditional update, so of two decisions racing (on one
    /// instance or several) exactly one wins and the held call runs once. False when it was no longer pending.
    /// </summary>
    public async Task<bool> ClaimAsync(Approval approval, ApprovalVerdict verdict, CancellationToken cancellationToken)
    {
        var status = verdict.Approved ? ApprovalStatus.Approved : ApprovalStatus.Rejected;
        var now = time.GetUtcNow();
        var decidedBy = verdict.DecidedBy.KeyId;
        var claimed = await db.Approvals.Where(a => a.Id == approval.Id && a.Status == ApprovalStatus.Pending)
            .ExecuteUpdateAsync(s => s.SetProperty(a => a.Status, status).SetProperty(a => a.DecidedAt, now)
                .SetProperty(a => a.DecidedBy, decidedBy).SetProperty(a => a.Note, verdict.Note), cancellationToken);
        await db.Entry(approval).ReloadAsync(cancellationToken);
        return claimed == 1;
    }

    /// <summary>Gives the decision back when the turn could not even start (the conversation was busy): someone may decide again.</summary>
    public async Task ReleaseAsync(Approval approval)
    {
        await db.Approvals.Where(a => a.Id == approval.Id && a.Status != ApprovalStatus.Pending)
            .ExecuteUpdateAsync(s => s.SetProperty(a => a.Status, ApprovalStatus.Pending).SetProperty(a => a.DecidedAt, (DateTimeOffset?)null)
                .SetProperty(a => a.DecidedBy, (string?)null).SetProperty(a => a.Note, (string?)null), CancellationToken.None);
        await db.Entry(approval).ReloadAsync(CancellationToken.None);
    }

    /// <summary>Runs or refuses the held call (already claimed), through the same sequence as any tool call, and records the decision.</summary>
    /// <remarks>An approved call runs to its end (bounded by the tool timeout) even if the deciding request goes away: a human decided, and what the tool did must be recorded.</remarks>
    public async Task<ToolRound> ResumeAsync(Turn turn, Approval approval, ApprovalVerdict verdict)
    {
        var arguments = JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(approval.Arguments)!.ToDictionary(a => a.Key, a => (object?)a.Value, StringComparer.Ordinal);
        var call = new FunctionCallContent(approval.CallId, approval.ToolName, arguments);
        ToolOutcome? decided;
        TurnToolCall row;
        if (verdict.Approved)
        {
            // The approval is the exception to the policy's totals, not to its refusals (a per-call maximum lowered meanwhile).
            var decision = await ledger.ReserveApprovedAsync(turn, call, approval.Arguments, CancellationToken.None);
            decided = decision.Verdict.Kind == PolicyVerdict.Deny
                ? ToolOutcome.NotRun(ToolOutcome.Denied, $"Error: {decision.Verdict.Reason}")
                : null;
            row = decision.Reservation is { } reserved ? new TurnToolCall(reserved, Reserved: true) : new TurnToolCall(ledger.Row(turn, call, approval.Arguments), false);
        }
        else
        {
            decided = ToolOutcome.NotRun(ToolOutcome.Denied, $"Error: a supervisor rejected this call.{(string.IsNullOrWhiteSpace(verdict.Note) ? "" : $" Note: {verdict.Note}")}");
            row = new TurnToolCall(ledger.Row(turn, call, approval.Arguments), Reserved: false);
        }
        var outcome = await execution.CompleteAsync(turn, call, decided, row, [], TurnEvents.None, CancellationToken.None);
        turn.Audit(AuditActor.For(verdict.DecidedBy), verdict.Approved ? AuditActions.ApprovalApproved : AuditActions.ApprovalRejected, $"approval:{approval.Id}",
            approval.Status, new { approval.ConversationId, approval.ToolName, approval.RuleId, note = verdict.Note, toolOutcome = outcome.Outcome });
        return new ToolRound([call], [outcome.ForModel(call)]);
    }
}
