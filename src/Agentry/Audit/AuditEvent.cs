namespace Agentry.Audit;

/// <summary>
/// One row of the append-only audit log. Each row stores the hash of the previous row and its own hash over
/// its content and that link, so editing or deleting a row breaks the chain (<see cref="AuditChain.Verify"/>).
/// </summary>
public sealed class AuditEvent
{
    public long Id { get; set; }
    public DateTimeOffset Time { get; set; }
    /// <summary>Key id, <c>anonymous</c>, or <c>system</c>.</summary>
    public required string Actor { get; set; }
    public string? ClientIp { get; set; }
    public required string Action { get; set; }
    public string? Target { get; set; }
    public required string Outcome { get; set; }
    public string? TraceId { get; set; }
    /// <summary>How many occurrences this row stands for (aggregated events such as repeated authentication failures).</summary>
    public int Count { get; set; } = 1;
    /// <summary>JSON object with details; secrets are never put here.</summary>
    public string? Detail { get; set; }
    public required string PreviousHash { get; set; }
    public required string Hash { get; set; }
}

public static class AuditActions
{
    public const string AuthFailed = "auth.failed";
    public const string KeyCreated = "key.created";
    public const string KeyRotated = "key.rotated";
    public const string KeyRevoked = "key.revoked";
    public const string AgentCreated = "agent.created";
    public const string AgentUpdated = "agent.updated";
    public const string AgentDeleted = "agent.deleted";
    /// <summary>An earlier version of an API agent was made current again (a new version with its content).</summary>
    public const string AgentRestored = "agent.restored";
    public const string EvalRunStarted = "eval.run.started";
    public const string EvalSuiteSaved = "eval.suite.saved";
    public const string AgentsReloaded = "agents.reloaded";
    public const string McpServerAdded = "mcp.server.added";
    public const string McpServerRemoved = "mcp.server.removed";
    public const string ConversationDeleted = "conversation.deleted";
    public const string KnowledgeDocumentAdded = "knowledge.document.added";
    public const string KnowledgeDocumentReplaced = "knowledge.document.replaced";
    public const string KnowledgeDocumentRemoved = "knowledge.document.removed";
    public const string KnowledgeBaseRemoved = "knowledge.base.removed";
    public const string MemoryAdded = "memory.added";
    public const string MemoryRemoved = "memory.removed";
    /// <summary>Everything stored about a user was deleted on request; the event names the user only by <see cref="Memory.UserHash"/>.</summary>
    public const string UserForgotten = "user.forgotten";
    /// <summary>The retention job deleted what was older than Data:Retention allows.</summary>
    public const string RetentionApplied = "retention.applied";
    /// <summary>A person was asked to take over (an input rule, or the escalate_to_human tool); outcome <see cref="PendingHuman"/>.</summary>
    public const string ConversationEscalated = "conversation.escalated";
    /// <summary>The outcome of an escalation: the conversation waits for a person.</summary>
    public const string PendingHuman = "pending-human";
    public const string RefundRequested = "refund.requested";
    public const string ApprovalApproved = "approval.approved";
    public const string ApprovalRejected = "approval.rejected";
    public const string McpToolsChanged = "mcp.tools.changed";
    public const string McpToolsApproved = "mcp.tools.approved";
    /// <summary>A rule fired during a turn: <c>rule.redact</c>, <c>rule.block</c>, <c>rule.require-approval</c>, …</summary>
    public static string Rule(string ruleAction) => $"rule.{ruleAction}";
    public const string RateLimited = "ratelimit.rejected";
    public const string BudgetExceeded = "budget.rejected";
    public const string SecurityBootstrap = "security.bootstrap";
    public const string SecurityDisabled = "security.disabled";
    /// <summary>Keys of the secrets key ring that an earlier version stored in the clear were encrypted with the secrets key.</summary>
    public const string SecretsKeyRingEncrypted = "security.keyring.encrypted";
    public const string BackupCreated = "backup.created";
    public const string BackupFailed = "backup.failed";
    public const string BackupRestored = "backup.restored";
    public const string AgentsExported = "agents.exported";
    public const string AgentsImported = "agents.imported";
    public const string UserDataExported = "user.exported";
    public const string UserDataImported = "user.imported";
}
