namespace Agentry.Tools;

/// <summary>
/// One tool call a model made, as the ledger (<c>tool_calls</c>) keeps it: who made it (conversation, end user, API key,
/// agent), the tool by the name an operator writes (<c>refund</c>, <c>mcp:crm/refund</c>), the arguments as the tool
/// received them, the amount its policy limits and how it ended. Policies count totals here. A call a policy limits is
/// reserved (outcome <see cref="ToolOutcome.Running"/>) before the tool runs, in a transaction of its own, so parallel
/// turns cannot each pass a cap; the turn's commit records how it ended. Rows outlive their conversation: deleting a
/// conversation must not give back what its refunds counted against a daily limit.
/// </summary>
public sealed class ToolCall
{
    public required string Id { get; set; }
    public required string ConversationId { get; set; }
    /// <summary>The conversation's end user (its <c>userId</c>), when it has one.</summary>
    public string? UserId { get; set; }
    /// <summary>The API key the turn is charged to.</summary>
    public string? KeyId { get; set; }
    public required string AgentId { get; set; }
    /// <summary>The tool's Agentry name: a built-in's name or <c>mcp:server/tool</c>.</summary>
    public required string Tool { get; set; }
    public required string CallId { get; set; }
    /// <summary>The arguments the tool received, as canonical JSON (keys sorted, numbers given as strings converted where the tool declares a number).</summary>
    public required string Arguments { get; set; }
    /// <summary>The value of the policy's amount argument, as the tool read it; null when the tool's policy has none.</summary>
    public decimal? Amount { get; set; }
    public required string Outcome { get; set; }
    /// <summary>The stored tool message with the result the model received.</summary>
    public string? MessageId { get; set; }
    public DateTimeOffset CreatedAt { get; set; }

    /// <summary>Whether the call may have had its effect: it ran (or is running, or nobody knows how it ended). Policy totals count these.</summary>
    public static bool MayHaveTakenEffect(string outcome) =>
        outcome is ToolOutcome.Running or ToolOutcome.Success or ToolOutcome.Timeout or ToolOutcome.Withheld;
}
