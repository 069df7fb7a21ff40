using System.Text.Json;
using Agentry.Api;
using Agentry.Data;

namespace Agentry.Conversations;

public sealed record CreateConversationRequest(
    string AgentId, string? UserId, string? Title, Dictionary<string, JsonElement>? Metadata, Agents.Personality? Personality = null) : IValidatable
{
    public const int MaxMetadataBytes = 16 * 1024;

    public void Validate(ValidationErrors errors)
    {
        errors.Slug("agentId", AgentId);
        errors.MaxLength("userId", UserId, 128);
        errors.MaxLength("title", Title, 200);
        ValidateMetadata(errors, Metadata);
        Personality?.Validate(errors);
    }

    public static void ValidateMetadata(ValidationErrors errors, Dictionary<string, JsonElement>? metadata)
    {
        if (metadata is null) return;
        errors.Count("metadata", metadata.Keys, 64);
        if (JsonSerializer.SerializeToUtf8Bytes(metadata).Length > MaxMetadataBytes)
            errors.Add("metadata", $"Must be at most {MaxMetadataBytes} bytes of JSON.");
    }
}

/// <summary>POST /v1/conversations/{id}/messages.</summary>
public sealed record PostMessageRequest(string Content, string? AgentId, bool? Stream) : IValidatable
{
    /// <summary>Longest user message accepted, in characters (about 8k tokens).</summary>
    public const int MaxContentLength = 32_000;

    public void Validate(ValidationErrors errors)
    {
        errors.Required("content", Content, MaxContentLength);
        if (AgentId is not null) errors.Slug("agentId", AgentId);
    }
}

/// <summary>POST /v1/chat: one call that creates the conversation when none is named.</summary>
public sealed record ChatRequest(string Message, string? AgentId, string? ConversationId, string? UserId, bool? Stream) : IValidatable
{
    public void Validate(ValidationErrors errors)
    {
        errors.Required("message", Message, PostMessageRequest.MaxContentLength);
        errors.NoNul("message", Message);
        if (AgentId is not null) errors.Slug("agentId", AgentId);
        if (ConversationId is not null && !Ids.IsValid(ConversationId, Ids.ConversationPrefix)) errors.Add("conversationId", "Not a conversation id (conv_…).");
        errors.MaxLength("userId", UserId, 128);
        errors.NoNul("userId", UserId);
    }
}

public sealed record ConversationDto(
    string Id, string AgentId, string? UserId, string? Title, JsonElement? Metadata, long MessageCount, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt)
{
    /// <summary>The agent's opening message, on the response that created the conversation.</summary>
    public string? Greeting { get; init; }

    public static ConversationDto From(Conversation c) =>
        new(c.Id, c.AgentId, c.UserId, c.Title, ParseJson(c.Metadata), c.LastSequence, c.CreatedAt, c.UpdatedAt);

    internal static JsonElement? ParseJson(string? json) => json is null ? null : JsonDocument.Parse(json).RootElement.Clone();
}

public sealed record UsageDto(int InputTokens, int OutputTokens);

public sealed record MessageDto(
    string Id, string ConversationId, long Sequence, string Role, string? AgentId, string Content, string? Model, UsageDto? Usage,
    int? LatencyMs, string? FinishReason, string Status, JsonElement? Metadata, DateTimeOffset CreatedAt)
{
    /// <summary>The version of the agent that wrote an assistant message (GET /v1/agents/{id}/versions).</summary>
    public string? AgentVersion { get; init; }

    public static MessageDto From(Message m) =>
        new(m.Id, m.ConversationId, m.Sequence, m.Role, m.AgentId, m.Content, m.Model,
            m.InputTokens is null && m.OutputTokens is null ? null : new UsageDto(m.InputTokens ?? 0, m.OutputTokens ?? 0),
            m.LatencyMs, m.FinishReason, m.Status, ConversationDto.ParseJson(m.Metadata), m.CreatedAt)
        { AgentVersion = m.AgentVersion };
}

/// <summary>The result of one turn: the messages it added (the user's first) and what the model used.</summary>
public sealed record TurnDto(string ConversationId, string AgentId, IReadOnlyList<MessageDto> Messages, UsageDto Usage, string Model)
{
    public const string Completed = "completed";
    public const string PendingApproval = "pending_approval";
    public const string Interrupted = MessageStatus.Interrupted;

    /// <summary>
    /// <c>completed</c>; <c>pending_approval</c> when a rule held a tool call for a human (see <see cref="PendingApprovalId"/>);
    /// <c>interrupted</c> when the turn was cut short after producing something (a failure, the client leaving, a
    /// shutdown): what it produced is stored, and a retry with the same Idempotency-Key gets this result.
    /// </summary>
    public string Status { get; init; } = Completed;
    public string? PendingApprovalId { get; init; }
    /// <summary>
    /// Calls of functions the client runs itself (offered through the OpenAI-compatible endpoints) that the turn ended
    /// with: the client sends their results to continue it.
    /// </summary>
    public IReadOnlyList<ClientToolCallDto>? ToolCalls { get; init; }

    public static TurnDto From(Turn turn, IReadOnlyList<Message> stored) =>
        new(turn.Conversation.Id, turn.ConversationAgentId, stored.Select(MessageDto.From).ToList(), new UsageDto((int)turn.InputTokens, (int)turn.OutputTokens),
            turn.Model.Name)
        {
            Status = turn.End?.PendingApproval is not null ? PendingApproval : turn.End?.IsInterruption == true ? Interrupted : Completed,
            PendingApprovalId = turn.End?.PendingApproval?.Id,
            ToolCalls = turn.End?.ClientToolCalls?.Select(ClientToolCallDto.From).ToList(),
        };
}

/// <summary>A call of a client-side function: its id, the function's name and the arguments as a JSON object text.</summary>
public sealed record ClientToolCallDto(string Id, string Name, string Arguments)
{
    public static ClientToolCallDto From(Microsoft.Extensions.AI.FunctionCallContent call) =>
        new(call.CallId, call.Name, JsonSerializer.Serialize(call.Arguments ?? new Dictionary<string, object?>()));

    public Microsoft.Extensions.AI.FunctionCallContent ToContent() =>
        new(Id, Name, JsonSerializer.Deserialize<Dictionary<string, object?>>(Arguments));
}
