using Agentry.Security;

namespace Agentry.Conversations;

/// <summary>What a client asked for in one turn. A null conversation id starts a new conversation.</summary>
public sealed record TurnRequest(string? ConversationId, string Content, string? AgentId, string? UserId, Caller? Caller, string? TraceId = null);
