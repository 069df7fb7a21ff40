using Agentry.Security;
using Microsoft.Extensions.AI;

namespace Agentry.Conversations;

/// <summary>
/// What a client asked for in one turn. A null conversation id starts a new conversation. With an
/// <paramref name="Idempotency"/> key the turn owns it from here: its commit completes it, or frees it when nothing was
/// produced, and a turn that cannot even start frees it too.
/// </summary>
public sealed record TurnRequest(
    string? ConversationId, string Content, string? AgentId, string? UserId, Caller Caller, string? TraceId = null, IdempotencyKey? Idempotency = null)
{
    /// <summary>
    /// The conversation so far as the client keeps it (an OpenAI-style request carries its whole history): the history of
    /// the new conversation this turn starts, stored before the user's message.
    /// </summary>
    public IReadOnlyList<ChatMessage> Transcript { get; init; } = [];

    /// <summary>The id the new conversation gets, when the client must learn it before the turn ends (a streamed response's header).</summary>
    public string? NewConversationId { get; init; }

    /// <summary>The client application's own system message: fenced preferences after the agent's instructions, never instead of them.</summary>
    public string? ClientInstructions { get; init; }

    /// <summary>Sampling the client asked for; it may lower the agent's output limit, never raise it.</summary>
    public Models.SamplingSettings? Sampling { get; init; }

    /// <summary>Functions the client runs itself, offered beside the agent's own tools; a call to one ends the turn.</summary>
    public IReadOnlyList<AIFunctionDeclaration> ClientTools { get; init; } = [];

    /// <summary>
    /// Results of the client-side calls the previous turn ended with: this turn continues with them instead of a user
    /// message (<see cref="Content"/> is empty).
    /// </summary>
    public IReadOnlyList<FunctionResultContent>? ClientToolResults { get; init; }

    /// <summary>The calls those results answer, when the client sent them (a stateless request); otherwise the conversation has them.</summary>
    public IReadOnlyList<FunctionCallContent>? ClientToolCalls { get; init; }

    public bool ContinuesClientTools => ClientToolResults is not null;

    /// <summary>The eval run this turn belongs to (Evals/): its conversation is tagged with it and its side-effecting tools run dry.</summary>
    public string? EvalRunId { get; init; }

    /// <summary>Personality overrides (JSON, already checked against what the agent allows) the new conversation starts with.</summary>
    public string? PersonalityOverride { get; init; }

    /// <summary>An eval case's model in place of every agent's own (comparing models on the same suite).</summary>
    public string? ModelOverride { get; init; }

    /// <summary>What an eval case declared a dry-run tool returns, by tool name (otherwise a standard dry-run note).</summary>
    public IReadOnlyDictionary<string, string> DeclaredToolResults { get; init; } = new Dictionary<string, string>();
}
