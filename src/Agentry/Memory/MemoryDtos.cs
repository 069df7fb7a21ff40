using Agentry.Api;

namespace Agentry.Memory;

/// <summary>A memory in API responses.</summary>
public sealed record MemoryDto(
    string Id, string UserId, string? AgentId, string Text, string Author, string? ConversationId, string? MessageId, DateTimeOffset CreatedAt,
    string? SupersededBy, DateTimeOffset? SupersededAt)
{
    public static MemoryDto From(UserMemory m) =>
        new(m.Id, m.UserId, m.AgentId, m.Text, m.Author, m.ConversationId, m.MessageId, m.CreatedAt, m.SupersededBy, m.SupersededAt);
}

/// <summary>
/// A memory written through the API: the fact, the agent that keeps it to itself (omit for a memory every agent with
/// <c>memory: shared</c> reads), and the memory it corrects.
/// </summary>
public sealed record NewMemoryRequest(string Text, string? AgentId, string? Supersedes) : IValidatable
{
    public void Validate(ValidationErrors errors)
    {
        errors.Required("text", Text?.Trim(), UserMemories.MaxTextLength);
        if (AgentId is not null) errors.Slug("agentId", AgentId);
        errors.MaxLength("supersedes", Supersedes, 40);
    }
}
