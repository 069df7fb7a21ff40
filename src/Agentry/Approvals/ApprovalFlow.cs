using System.Text.Json;
using Agentry.Audit;
using Agentry.Conversations;
using Agentry.Conversations.Context;
using Agentry.Data;
using Agentry.Observability;
using Agentry.Rules;
using Agentry.Security;
using Agentry.Tools;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;

namespace Agentry.Approvals;

/// <summary>A human's decision on a held tool call.</summary>
public sealed record ApprovalVerdict(bool Approved, string? Note, Caller? DecidedBy);

/// <summary>
/// Tool calls a rule holds for a human (a refund over a limit): the turn stops at the call with a message saying so, and
/// continues, in a new turn, once someone approves (the tool runs) or rejects it (the model is told it was refused).
/// </summary>
public sealed class ApprovalFlow(AgentryDbContext db, ToolInvoker invoker, TurnRules rules, AuditLog audit, AgentryTelemetry telemetry, TimeProvider time, IOptions<ConversationOptions> options)
{
    /// <summary>Holds the call: an approval row, a pending tool message and a reply, all stored with the turn; the turn ends here.</summary>
    public Approval Hold(Turn turn, FunctionCallContent call, AgentRule rule, IReadOnlyList<RuleDecision> decisions)
    {
        var approval = new Approval
        {
            Id = Ids.New("apr"), ConversationId = turn.Conversation.Id, AgentId = turn.Agent.Id, ToolName = call.Name, CallId = call.CallId,
            Arguments = JsonSerializer.Serialize(call.Arguments ?? new Dictionary<string, object?>()), RuleId = rule.Id, CreatedAt = time.GetUtcNow(),
        };
        db.Approvals.Add(approval); // saved with the turn
        turn.AddToolResult(call, new ToolOutcome("pending-approval", $"Waiting for approval ({approval.Id}).", 0), options.Value.MaxStoredToolResultChars, decisions);
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
        var decidedBy = verdict.DecidedBy?.KeyId ?? "system";
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

    /// <summary>Runs or refuses the held call (already claimed) and audits the decision, stored with the continued turn.</summary>
    /// <remarks>An approved call runs to its end (bounded by the tool timeout) even if the deciding request goes away: a human decided, and what the tool did must be recorded.</remarks>
    public async Task<ToolRound> ResumeAsync(Turn turn, Approval approval, ApprovalVerdict verdict)
    {
        var arguments = JsonSerializer.Deserialize<Dictionary<string, object?>>(approval.Arguments) ?? [];
        var call = new FunctionCallContent(approval.CallId, approval.ToolName, arguments);
        var outcome = verdict.Approved
            ? await invoker.InvokeAsync(call, new ToolContext(turn.Conversation.Id, turn.Agent.Id, turn.Conversation.OwnerKeyId), turn.Agent.Tools, CancellationToken.None)
            : new ToolOutcome(ToolOutcome.Denied, $"Error: a supervisor rejected this call.{(string.IsNullOrWhiteSpace(verdict.Note) ? "" : $" Note: {verdict.Note}")}", 0);
        turn.CountToolCall();
        telemetry.ToolCalled(call.Name, outcome.Outcome, TimeSpan.FromMilliseconds(outcome.DurationMs));
        var (checkedOutcome, decisions) = outcome.FromTool ? await rules.CheckToolResultAsync(turn, outcome, TurnEvents.None, CancellationToken.None) : (outcome, []);
        outcome = checkedOutcome;
        turn.AddToolResult(call, outcome, options.Value.MaxStoredToolResultChars, decisions);
        audit.Stage(db, AuditActor.For(verdict.DecidedBy), verdict.Approved ? "approval.approved" : "approval.rejected", $"approval:{approval.Id}", approval.Status,
            new { approval.ConversationId, approval.ToolName, approval.RuleId, note = verdict.Note, toolOutcome = outcome.Outcome });
        return new ToolRound([call], [outcome.ForModel(call)]);
    }
}
