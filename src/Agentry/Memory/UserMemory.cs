namespace Agentry.Memory;

/// <summary>
/// A fact about a user that outlives a conversation ("prefers email", "has the Hub Pro"). Its vector is in the
/// <c>embeddings</c> table (collection <c>memory:{userId}</c>), so recall reads only that user's memories.
/// </summary>
public sealed class UserMemory
{
    public required string Id { get; set; }
    public required string UserId { get; set; }
    /// <summary>The agent that keeps it to itself (<c>memory: own</c>); null for a memory every agent with <c>memory: shared</c> reads.</summary>
    public string? AgentId { get; set; }
    public required string Text { get; set; }
    /// <summary>Who stated it: <c>user</c>, <c>agent</c> or <c>operator</c> (<see cref="MemoryAuthors"/>).</summary>
    public required string Author { get; set; }
    /// <summary>The conversation and message it was learned from (null when written through the API).</summary>
    public string? ConversationId { get; set; }
    public string? MessageId { get; set; }
    /// <summary>The API key that wrote it (through a turn or the API).</summary>
    public string? KeyId { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    /// <summary>The newer memory that replaced this one; a superseded memory is kept for the record but never recalled.</summary>
    public string? SupersededBy { get; set; }
    public DateTimeOffset? SupersededAt { get; set; }
}

public static class MemoryAuthors
{
    /// <summary>Written through the API by a key that owns the user's conversations (the client application, for its user).</summary>
    public const string User = "user";
    /// <summary>An agent saved it with the <c>remember</c> tool during a turn.</summary>
    public const string Agent = "agent";
    /// <summary>Written through the API with an admin key.</summary>
    public const string Operator = "operator";
    /// <summary>An eval case gave it to its (isolated) user before the case began; removed when the case ends.</summary>
    public const string Eval = "eval";
}
