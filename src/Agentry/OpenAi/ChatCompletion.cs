using System.Text.Json.Serialization;

namespace Agentry.OpenAi;

/// <summary>The answer of POST /v1/chat/completions without streaming: OpenAI's <c>chat.completion</c>, plus Agentry's facts.</summary>
public sealed record ChatCompletion(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("object")] string ObjectType,
    [property: JsonPropertyName("created")] long Created,
    [property: JsonPropertyName("model")] string Model,
    [property: JsonPropertyName("choices")] IReadOnlyList<ChatCompletionChoice> Choices,
    [property: JsonPropertyName("usage")] ChatCompletionUsage Usage,
    [property: JsonPropertyName("agentry")] AgentryTurnFacts Agentry);

public sealed record ChatCompletionChoice(
    [property: JsonPropertyName("index")] int Index,
    [property: JsonPropertyName("message")] ChatCompletionAnswer Message,
    // stop, length, tool_calls or content_filter (a rule blocked the message).
    [property: JsonPropertyName("finish_reason")] string FinishReason,
    [property: JsonPropertyName("logprobs")] object? Logprobs);

public sealed record ChatCompletionAnswer(
    [property: JsonPropertyName("role")] string Role,
    [property: JsonPropertyName("content")] string? Content,
    [property: JsonPropertyName("refusal")] string? Refusal,
    [property: JsonPropertyName("tool_calls"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] IReadOnlyList<ChatCompletionToolCall>? ToolCalls);

public sealed record ChatCompletionUsage(
    [property: JsonPropertyName("prompt_tokens")] int PromptTokens,
    [property: JsonPropertyName("completion_tokens")] int CompletionTokens,
    [property: JsonPropertyName("total_tokens")] int TotalTokens);

/// <summary>
/// What standard clients ignore and Agentry's clients want: the stored conversation (send its id back to continue it),
/// the agent that answered, the turn's status, an approval a person must decide, and the sources the reply cites.
/// </summary>
public sealed record AgentryTurnFacts(
    [property: JsonPropertyName("conversation_id")] string ConversationId,
    [property: JsonPropertyName("agent_id")] string AgentId,
    // completed, pending_approval or interrupted.
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("finish_reason")] string FinishReason,
    [property: JsonPropertyName("approval_id"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? ApprovalId,
    [property: JsonPropertyName("citations"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] System.Text.Json.JsonElement? Citations);

/// <summary>One event of a streamed answer: OpenAI's <c>chat.completion.chunk</c>.</summary>
public sealed record ChatCompletionChunk(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("object")] string ObjectType,
    [property: JsonPropertyName("created")] long Created,
    [property: JsonPropertyName("model")] string Model,
    [property: JsonPropertyName("choices")] IReadOnlyList<ChatCompletionChunkChoice> Choices,
    [property: JsonPropertyName("usage"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] ChatCompletionUsage? Usage,
    [property: JsonPropertyName("agentry"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] AgentryTurnFacts? Agentry);

public sealed record ChatCompletionChunkChoice(
    [property: JsonPropertyName("index")] int Index,
    [property: JsonPropertyName("delta")] ChatCompletionDelta Delta,
    [property: JsonPropertyName("finish_reason")] string? FinishReason,
    [property: JsonPropertyName("logprobs")] object? Logprobs);

public sealed record ChatCompletionDelta(
    [property: JsonPropertyName("role"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Role,
    [property: JsonPropertyName("content"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Content,
    [property: JsonPropertyName("tool_calls"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] IReadOnlyList<ChatCompletionToolCallDelta>? ToolCalls);

public sealed record ChatCompletionToolCallDelta(
    [property: JsonPropertyName("index")] int Index,
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("type")] string Type,
    [property: JsonPropertyName("function")] ChatCompletionFunctionCall Function);

/// <summary>GET /v1/models: the agents and workflows the key may talk to.</summary>
public sealed record ModelList(
    [property: JsonPropertyName("object")] string ObjectType,
    [property: JsonPropertyName("data")] IReadOnlyList<ModelCard> Data);

public sealed record ModelCard(
    // The agent or workflow id: the <c>model</c> of a chat completion or response.
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("object")] string ObjectType,
    [property: JsonPropertyName("created")] long Created,
    [property: JsonPropertyName("owned_by")] string OwnedBy,
    [property: JsonPropertyName("agentry")] ModelCardFacts Agentry);

public sealed record ModelCardFacts(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("description")] string Description,
    // agent or workflow.
    [property: JsonPropertyName("kind")] string Kind);

/// <summary>OpenAI's error body, which its SDKs turn into typed exceptions.</summary>
public sealed record OpenAiError([property: JsonPropertyName("error")] OpenAiErrorDetail Error);

public sealed record OpenAiErrorDetail(
    [property: JsonPropertyName("message")] string Message,
    // invalid_request_error, authentication_error, permission_error, not_found_error, conflict_error, rate_limit_error or server_error.
    [property: JsonPropertyName("type")] string Type,
    // The request parameter at fault, when one is.
    [property: JsonPropertyName("param")] string? Param,
    // Agentry's stable problem type without its prefix (token-budget-exceeded, conversation-busy, …); docs/api.md lists them.
    [property: JsonPropertyName("code")] string Code,
    [property: JsonPropertyName("trace_id")] string? TraceId);
