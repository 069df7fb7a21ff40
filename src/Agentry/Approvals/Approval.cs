namespace Agentry.Approvals;

/// <summary>A tool call a rule held for a human decision. The turn stops at it and continues when it is decided.</summary>
public sealed class Approval
{
    public required string Id { get; set; }
    public required string ConversationId { get; set; }
    public required string AgentId { get; set; }
    public required string ToolName { get; set; }
    public required string CallId { get; set; }
    /// <summary>The tool call's arguments as JSON.</summary>
    public required string Arguments { get; set; }
    public required string RuleId { get; set; }
    public string Status { get; set; } = ApprovalStatus.Pending;
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset? DecidedAt { get; set; }
    public string? DecidedBy { get; set; }
    public string? Note { get; set; }
}

public static class ApprovalStatus
{
    public const string Pending = "pending";
    public const string Approved = "approved";
    public const string Rejected = "rejected";
    /// <summary>Held in an eval run: recorded with the turn, never in the queue (a dry run has nothing to approve).</summary>
    public const string Eval = "eval";
}
