namespace Agentry.Conversations;

public sealed class Conversation
{
    public required string Id { get; set; }
    /// <summary>The agent that answers the next turn (changes on handoff or when a turn names another agent).</summary>
    public required string AgentId { get; set; }
    public string? UserId { get; set; }
    public string? Title { get; set; }
    /// <summary>Client-supplied JSON object, stored as text.</summary>
    public string? Metadata { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }
    /// <summary>
    /// Sequence number of the newest message, also the optimistic-concurrency token: two writers that read the same
    /// value cannot both commit, so turns cannot interleave even across instances.
    /// </summary>
    public long LastSequence { get; set; }
    /// <summary>The API key that created the conversation; with conversation isolation only it (or an admin) can see it.</summary>
    public string? OwnerKeyId { get; set; }
    /// <summary>Personality fields this conversation overrides (JSON), within what its agent allows.</summary>
    public string? PersonalityOverride { get; set; }
}

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
