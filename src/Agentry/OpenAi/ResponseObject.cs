using System.Text.Json;
using System.Text.Json.Serialization;

namespace Agentry.OpenAi;

/// <summary>OpenAI's <c>response</c> object, plus Agentry's facts. Its output holds the agents' replies and the client's function calls.</summary>
public sealed record ResponseObject(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("object")] string ObjectType,
    [property: JsonPropertyName("created_at")] long CreatedAt,
    // queued, in_progress, completed, failed, cancelled or incomplete
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("background")] bool Background,
    [property: JsonPropertyName("model")] string Model,
    [property: JsonPropertyName("output")] IReadOnlyList<ResponseItem> Output,
    [property: JsonPropertyName("usage")] ResponseUsage? Usage,
    [property: JsonPropertyName("error")] ResponseError? Error,
    [property: JsonPropertyName("incomplete_details")] ResponseIncomplete? IncompleteDetails,
    [property: JsonPropertyName("instructions")] string? Instructions,
    [property: JsonPropertyName("metadata")] IReadOnlyDictionary<string, string> Metadata,
    [property: JsonPropertyName("previous_response_id")] string? PreviousResponseId,
    [property: JsonPropertyName("store")] bool Store,
    [property: JsonPropertyName("parallel_tool_calls")] bool ParallelToolCalls,
    [property: JsonPropertyName("tool_choice")] string ToolChoice,
    [property: JsonPropertyName("tools")] IReadOnlyList<JsonElement> Tools,
    [property: JsonPropertyName("temperature")] double? Temperature,
    [property: JsonPropertyName("top_p")] double? TopP,
    [property: JsonPropertyName("max_output_tokens")] int? MaxOutputTokens,
    [property: JsonPropertyName("conversation")] ResponseConversation? Conversation,
    [property: JsonPropertyName("agentry"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] AgentryTurnFacts? Agentry)
{
    public const string Queued = "queued";
    public const string InProgress = "in_progress";
    public const string Completed = "completed";
    public const string Failed = "failed";
    public const string Cancelled = "cancelled";
    public const string Incomplete = "incomplete";

    [JsonIgnore] public bool IsFinished => Status is Completed or Failed or Cancelled or Incomplete;
}

/// <summary>An output item: a <c>message</c> (an agent's reply) or a <c>function_call</c> the client runs.</summary>
public sealed record ResponseItem(
    [property: JsonPropertyName("type")] string Type,
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("role"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Role = null,
    [property: JsonPropertyName("content"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] IReadOnlyList<ResponseContent>? Content = null,
    [property: JsonPropertyName("call_id"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? CallId = null,
    [property: JsonPropertyName("name"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Name = null,
    [property: JsonPropertyName("arguments"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Arguments = null,
    [property: JsonPropertyName("output"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? FunctionOutput = null)
{
    public static ResponseItem Message(string id, string status, string role, string text, string contentType = "output_text") =>
        new("message", id, status, role, [new ResponseContent(contentType, text, contentType == "output_text" ? [] : null)]);

    public static ResponseItem FunctionCall(string id, string callId, string name, string arguments) =>
        new("function_call", id, "completed", CallId: callId, Name: name, Arguments: arguments);
}

public sealed record ResponseContent(
    [property: JsonPropertyName("type")] string Type,
    [property: JsonPropertyName("text")] string Text,
    [property: JsonPropertyName("annotations"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] IReadOnlyList<JsonElement>? Annotations);

public sealed record ResponseUsage(
    [property: JsonPropertyName("input_tokens")] int InputTokens,
    [property: JsonPropertyName("input_tokens_details")] ResponseInputTokenDetails InputTokensDetails,
    [property: JsonPropertyName("output_tokens")] int OutputTokens,
    [property: JsonPropertyName("output_tokens_details")] ResponseOutputTokenDetails OutputTokensDetails,
    [property: JsonPropertyName("total_tokens")] int TotalTokens)
{
    public static ResponseUsage Of(int input, int output) => new(input, new(0), output, new(0), input + output);
}

public sealed record ResponseInputTokenDetails([property: JsonPropertyName("cached_tokens")] int CachedTokens);

public sealed record ResponseOutputTokenDetails([property: JsonPropertyName("reasoning_tokens")] int ReasoningTokens);

/// <summary>Why a response failed: Agentry's stable problem type (without its prefix) and what to do.</summary>
public sealed record ResponseError([property: JsonPropertyName("code")] string Code, [property: JsonPropertyName("message")] string Message);

public sealed record ResponseIncomplete([property: JsonPropertyName("reason")] string Reason);

public sealed record ResponseConversation([property: JsonPropertyName("id")] string Id);

/// <summary>DELETE /v1/responses/{id}.</summary>
public sealed record ResponseDeleted(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("object")] string ObjectType,
    [property: JsonPropertyName("deleted")] bool Deleted);

/// <summary>GET /v1/responses/{id}/input_items: what the client sent, as items.</summary>
public sealed record ResponseItemList(
    [property: JsonPropertyName("object")] string ObjectType,
    [property: JsonPropertyName("data")] IReadOnlyList<ResponseItem> Data,
    [property: JsonPropertyName("first_id")] string? FirstId,
    [property: JsonPropertyName("last_id")] string? LastId,
    [property: JsonPropertyName("has_more")] bool HasMore);
