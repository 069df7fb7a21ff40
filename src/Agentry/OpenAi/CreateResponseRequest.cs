using System.Text.Json;
using System.Text.Json.Serialization;
using Agentry.Api;

namespace Agentry.OpenAi;

/// <summary>
/// POST /v1/responses: the part of OpenAI's Responses API an agent needs. Unknown parameters are ignored; built-in
/// OpenAI tools (web search, file search, …) and non-text input are refused with a 400 naming the parameter.
/// </summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Skip)]
public sealed record CreateResponseRequest : IValidatable
{
    /// <summary>An agent or workflow id.</summary>
    [JsonPropertyName("model")] public required string Model { get; init; }
    /// <summary>A string (the user's message) or a list of items: messages, function_call and function_call_output.</summary>
    [JsonPropertyName("input")] public required JsonElement Input { get; init; }
    /// <summary>The application's own instructions: fenced preferences after the agent's, never instead of them.</summary>
    [JsonPropertyName("instructions")] public string? Instructions { get; init; }
    /// <summary>Continues the conversation of that response.</summary>
    [JsonPropertyName("previous_response_id")] public string? PreviousResponseId { get; init; }
    /// <summary>Continues a stored conversation: its id, or {"id": …}.</summary>
    [JsonPropertyName("conversation")] public JsonElement? Conversation { get; init; }
    /// <summary>Keep the response so it can be read, continued and resumed (default true).</summary>
    [JsonPropertyName("store")] public bool? Store { get; init; }
    /// <summary>Run on the server whatever happens to the client: the answer is queued at once; poll it, resume its stream, or cancel it.</summary>
    [JsonPropertyName("background")] public bool? Background { get; init; }
    [JsonPropertyName("stream")] public bool? Stream { get; init; }
    /// <summary>Functions the client runs itself ({"type":"function","name","description","parameters"}).</summary>
    [JsonPropertyName("tools")] public List<ResponseTool>? Tools { get; init; }
    [JsonPropertyName("tool_choice")] public JsonElement? ToolChoice { get; init; }
    [JsonPropertyName("temperature")] public double? Temperature { get; init; }
    [JsonPropertyName("top_p")] public double? TopP { get; init; }
    [JsonPropertyName("max_output_tokens")] public int? MaxOutputTokens { get; init; }
    [JsonPropertyName("metadata")] public Dictionary<string, string>? Metadata { get; init; }
    /// <summary>The end user: Agentry's userId.</summary>
    [JsonPropertyName("user")] public string? User { get; init; }

    public bool Stored => Store ?? true;

    public void Validate(ValidationErrors errors)
    {
        errors.Slug("model", Model);
        var messages = Messages(out var inputError);
        if (inputError is not null) errors.Add("input", inputError);
        else
        {
            if (messages.Count == 0) errors.Add("input", "At least one input item.");
            for (var i = 0; i < Math.Min(messages.Count, ChatCompletionRequest.MaxMessages); i++) messages[i].Validate(errors, $"input[{i}]");
            if (messages.Count > ChatCompletionRequest.MaxMessages) errors.Add("input", $"At most {ChatCompletionRequest.MaxMessages} items.");
            if (messages.Count > 0 && messages[^1].Role is not ("user" or "tool"))
                errors.Add("input", "The last item must be the user's message (or the outputs of the function calls the previous response asked for).");
            ChatCompletionMessage.ValidateCallIds(errors, "input", messages);
        }
        errors.MaxLength("instructions", Instructions, ChatCompletionMessage.MaxContentLength);
        errors.NoNul("instructions", Instructions);
        if (PreviousResponseId is not null && !Data.Ids.IsValid(PreviousResponseId, ResponsesApi.IdPrefix)) errors.Add("previous_response_id", "Not a response id (resp_…).");
        if (ConversationId(out var conversationError) is { } conversation && !Data.Ids.IsValid(conversation, Data.Ids.ConversationPrefix))
            errors.Add("conversation", "Not a conversation id (conv_…).");
        if (conversationError is not null) errors.Add("conversation", conversationError);
        if (PreviousResponseId is not null && Conversation is { ValueKind: not JsonValueKind.Null })
            errors.Add("conversation", "Send previous_response_id or conversation, not both.");
        if (Background == true && !Stored) errors.Add("background", "A background response is stored: it cannot have store=false.");
        if (MaxOutputTokens is < 1 or > Agents.AgentDefinition.MaxOutputTokensLimit) errors.Add("max_output_tokens", $"Between 1 and {Agents.AgentDefinition.MaxOutputTokensLimit}.");
        // The flat Responses form of a function, checked as the Chat Completions form it becomes.
        var functions = Tools?.Select(t => new ChatCompletionTool { Type = t.Type, Function = t.Type == "function" ? t.AsFunction() : null }).ToList();
        ChatCompletionRequest.ValidateShared(errors, Temperature, TopP, User, functions, ToolChoice, Metadata);
    }

    /// <summary>The conversation to continue named by <c>conversation</c>, or why it is not readable.</summary>
    public string? ConversationId(out string? error)
    {
        error = null;
        if (Conversation is not { } value || value.ValueKind == JsonValueKind.Null) return null;
        if (value.ValueKind == JsonValueKind.String) return value.GetString();
        if (value.ValueKind == JsonValueKind.Object && value.TryGetProperty("id", out var id) && id.ValueKind == JsonValueKind.String) return id.GetString();
        error = "A conversation id, or {\"id\": \"conv_…\"}.";
        return null;
    }

    /// <summary>
    /// The input as chat messages: a string is the user's message; message items keep their role, function_call items
    /// become an assistant message's tool calls, function_call_output items tool messages.
    /// </summary>
    public List<ChatCompletionMessage> Messages(out string? error)
    {
        error = null;
        if (Input.ValueKind == JsonValueKind.String) return [new ChatCompletionMessage { Role = "user", Content = Input }];
        if (Input.ValueKind != JsonValueKind.Array)
        {
            error = "A string or a list of input items.";
            return [];
        }
        var messages = new List<ChatCompletionMessage>();
        foreach (var item in Input.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Object)
            {
                error = "Each input item is an object.";
                return [];
            }
            var type = item.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : "message";
            switch (type)
            {
                case "message" when item.TryGetProperty("role", out var role) && role.ValueKind == JsonValueKind.String:
                    messages.Add(new ChatCompletionMessage { Role = role.GetString()!, Content = item.TryGetProperty("content", out var content) ? content.Clone() : null });
                    break;
                case "function_call" when Text(item, "call_id") is { } callId && Text(item, "name") is { } name:
                    var call = new ChatCompletionToolCall(callId, "function", new ChatCompletionFunctionCall(name, Text(item, "arguments") ?? "{}"));
                    // Calls one after another are one assistant message's calls, as the model made them.
                    if (messages.Count > 0 && messages[^1] is { Role: "assistant", ToolCalls: { } calls }) calls.Add(call);
                    else messages.Add(new ChatCompletionMessage { Role = "assistant", ToolCalls = [call] });
                    break;
                case "function_call_output" when Text(item, "call_id") is { } callId:
                    messages.Add(new ChatCompletionMessage
                    {
                        Role = "tool", ToolCallId = callId, Content = item.TryGetProperty("output", out var output) ? output.Clone() : null,
                    });
                    break;
                default:
                    error = $"Input items of type '{type}' are not supported here: messages (text), function_call and function_call_output are.";
                    return [];
            }
        }
        return messages;
    }

    static string? Text(JsonElement item, string property) =>
        item.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}

/// <summary>A function the client offers, in the Responses API's flat form.</summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Skip)]
public sealed record ResponseTool
{
    /// <summary>Only <c>function</c>: OpenAI's built-in tools are OpenAI's.</summary>
    [JsonPropertyName("type")] public required string Type { get; init; }
    [JsonPropertyName("name")] public string? Name { get; init; }
    [JsonPropertyName("description")] public string? Description { get; init; }
    [JsonPropertyName("parameters")] public JsonElement? Parameters { get; init; }

    public ChatCompletionFunction AsFunction() => new() { Name = Name!, Description = Description, Parameters = Parameters };
}
