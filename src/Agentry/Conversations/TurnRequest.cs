using Agentry.Security;

namespace Agentry.Conversations;

/// <summary>
/// What a client asked for in one turn. A null conversation id starts a new conversation. With an
/// <paramref name="Idempotency"/> key the turn owns it from here: its commit completes it, or frees it when nothing was
/// produced, and a turn that cannot even start frees it too.
/// </summary>
public sealed record TurnRequest(
    string? ConversationId, string Content, string? AgentId, string? UserId, Caller Caller, string? TraceId = null, IdempotencyKey? Idempotency = null);
