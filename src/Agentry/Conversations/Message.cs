namespace Agentry.Conversations;

public sealed class Message
{
    public required string Id { get; set; }
    public required string ConversationId { get; set; }
    /// <summary>1-based position in the conversation; (ConversationId, Sequence) is unique.</summary>
    public long Sequence { get; set; }
    public required string Role { get; set; }
    /// <summary>The agent that produced an assistant or tool message, or that the user addressed.</summary>
    public string? AgentId { get; set; }
    public required string Content { get; set; }
    public string? Model { get; set; }
    public int? InputTokens { get; set; }
    public int? OutputTokens { get; set; }
    public int? LatencyMs { get; set; }
    public string? FinishReason { get; set; }
    public string Status { get; set; } = MessageStatus.Completed;
    /// <summary>Extra facts as a JSON object (tool name and arguments for tool messages).</summary>
    public string? Metadata { get; set; }
    /// <summary>The version (<see cref="Agents.AgentVersion.Hash"/>) of the agent that wrote an assistant message.</summary>
    public string? AgentVersion { get; set; }
    /// <summary>
    /// What the message costs in a later turn's history window (o200k tokens, role overhead included), counted once when
    /// the turn that said it is stored, so every later turn does not tokenize its window again. Null where the window
    /// sends something else than the text (a client's claim of what an agent said, fenced) or for rows written by an
    /// older version or an import: those are counted when read.
    /// </summary>
    public int? Tokens { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
}

public static class MessageRoles
{
    public const string User = "user";
    public const string Assistant = "assistant";
    public const string Tool = "tool";
    /// <summary>The conversation moved to another agent; metadata holds from, to, reason and how it was decided.</summary>
    public const string Handoff = "handoff";
}

public static class MessageStatus
{
    public const string Completed = "completed";
    /// <summary>The reply was cut short (client disconnected, or the provider failed mid-stream); content is what was generated.</summary>
    public const string Interrupted = "interrupted";
}
