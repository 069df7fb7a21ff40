using System.Text.Json;
using System.Text.Json.Serialization;
using Agentry.Api;

namespace Agentry.OpenAi;

/// <summary>
/// POST /v1/chat/completions as OpenAI defines it. Parameters Agentry does not use are ignored, as OpenAI ignores
/// unknown ones; those it cannot honour (n above 1, a forced tool choice) are refused with a 400 naming the parameter.
/// </summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Skip)]
public sealed record ChatCompletionRequest : IValidatable
{
    /// <summary>An agent or workflow id (GET /v1/models lists them).</summary>
    [JsonPropertyName("model")] public required string Model { get; init; }
    [JsonPropertyName("messages")] public required List<ChatCompletionMessage> Messages { get; init; }
    [JsonPropertyName("stream")] public bool? Stream { get; init; }
    [JsonPropertyName("stream_options")] public ChatCompletionStreamOptions? StreamOptions { get; init; }
    /// <summary>Caps the reply; the agent's own limit still applies when it is lower.</summary>
    [JsonPropertyName("max_tokens")] public int? MaxTokens { get; init; }
    [JsonPropertyName("max_completion_tokens")] public int? MaxCompletionTokens { get; init; }
    [JsonPropertyName("temperature")] public double? Temperature { get; init; }
    [JsonPropertyName("top_p")] public double? TopP { get; init; }
    /// <summary>A string or up to 4 strings.</summary>
    [JsonPropertyName("stop")] public JsonElement? Stop { get; init; }
    /// <summary>The end user: Agentry's userId (memory, analytics, forgetting).</summary>
    [JsonPropertyName("user")] public string? User { get; init; }
    /// <summary>Only 1.</summary>
    [JsonPropertyName("n")] public int? N { get; init; }
    /// <summary>Functions the client runs itself, offered to the agent beside its own tools.</summary>
    [JsonPropertyName("tools")] public List<ChatCompletionTool>? Tools { get; init; }
    /// <summary><c>auto</c> or <c>none</c>.</summary>
    [JsonPropertyName("tool_choice")] public JsonElement? ToolChoice { get; init; }
    /// <summary><c>agentry_conversation_id</c> continues a stored conversation: only the new message is sent.</summary>
    [JsonPropertyName("metadata")] public Dictionary<string, string>? Metadata { get; init; }

    public const string ConversationMetadataKey = "agentry_conversation_id";
    public const int MaxMessages = 1_000;
    public const int MaxTools = 64;

    public int? OutputLimit => MaxCompletionTokens ?? MaxTokens;

    public void Validate(ValidationErrors errors)
    {
        errors.Slug("model", Model);
        if (Messages.Count == 0) errors.Add("messages", "At least one message.");
        errors.Count("messages", Messages, MaxMessages);
        for (var i = 0; i < Math.Min(Messages.Count, MaxMessages); i++) Messages[i].Validate(errors, $"messages[{i}]");
        if (Messages.Count > 0 && Messages[^1].Role is not ("user" or "tool"))
            errors.Add("messages", "The last message must be the user's (or the results of the tool calls the previous response asked for).");
        ChatCompletionMessage.ValidateCallIds(errors, "messages", Messages);
        if (N is not (null or 1)) errors.Add("n", "Only n=1 is supported: an agent's turn has one answer.");
        ValidateShared(errors, Temperature, TopP, User, Tools, ToolChoice, Metadata);
        if (MaxTokens is < 1 or > Agents.AgentDefinition.MaxOutputTokensLimit) errors.Add("max_tokens", $"Between 1 and {Agents.AgentDefinition.MaxOutputTokensLimit}.");
        if (MaxCompletionTokens is < 1 or > Agents.AgentDefinition.MaxOutputTokensLimit)
            errors.Add("max_completion_tokens", $"Between 1 and {Agents.AgentDefinition.MaxOutputTokensLimit}.");
        if (StopSequences(out var stop) is { } stopError) errors.Add("stop", stopError);
        else foreach (var s in stop) errors.NoNul("stop", s);
        if (Metadata is { } metadata && metadata.TryGetValue(ConversationMetadataKey, out var id) && !Data.Ids.IsValid(id, Data.Ids.ConversationPrefix))
            errors.Add($"metadata.{ConversationMetadataKey}", "Not a conversation id (conv_…).");
    }

    /// <summary>What Chat Completions and Responses requests share: sampling, the end user, the client's functions, metadata.</summary>
    public static void ValidateShared(ValidationErrors errors, double? temperature, double? topP, string? user, IReadOnlyList<ChatCompletionTool>? tools,
        JsonElement? toolChoice, Dictionary<string, string>? metadata)
    {
        if (temperature is < 0 or > 2) errors.Add("temperature", "Between 0 and 2.");
        if (topP is < 0 or > 1) errors.Add("top_p", "Between 0 and 1.");
        errors.MaxLength("user", user, 128);
        errors.NoNul("user", user);
        if (tools is not null)
        {
            errors.Count("tools", tools, MaxTools);
            for (var i = 0; i < Math.Min(tools.Count, MaxTools); i++) tools[i].Validate(errors, $"tools[{i}]");
            if (tools.Select(t => t.Function?.Name).Distinct().Count() != tools.Count) errors.Add("tools", "Each function name once.");
        }
        if (toolChoice is { } choice && !(choice.ValueKind == JsonValueKind.String && choice.GetString() is "auto" or "none"))
            errors.Add("tool_choice", "Only \"auto\" or \"none\": the agent decides which tools it calls.");
        if (metadata is not null)
        {
            errors.Count("metadata", metadata.Keys, 16);
            if (metadata.Any(m => m.Key.Length > 64 || m.Value.Length > 512)) errors.Add("metadata", "Keys of at most 64 characters, values of at most 512.");
        }
    }

    /// <summary>The stop sequences, or why the value is not one or up to 4 strings.</summary>
    public string? StopSequences(out IReadOnlyList<string> stop)
    {
        stop = [];
        if (Stop is not { } value || value.ValueKind == JsonValueKind.Null) return null;
        if (value.ValueKind == JsonValueKind.String) stop = [value.GetString()!];
        else if (value.ValueKind == JsonValueKind.Array && value.EnumerateArray().All(e => e.ValueKind == JsonValueKind.String))
            stop = value.EnumerateArray().Select(e => e.GetString()!).ToList();
        else return "A string or an array of strings.";
        if (stop.Count > 4) return "At most 4 stop sequences.";
        return stop.Any(s => s.Length is 0 or > 200) ? "Each stop sequence has 1 to 200 characters." : null;
    }
}

[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Skip)]
public sealed record ChatCompletionStreamOptions
{
    /// <summary>A last chunk with the turn's token usage (and no choices) before [DONE].</summary>
    [JsonPropertyName("include_usage")] public bool? IncludeUsage { get; init; }
}

/// <summary>A message of the conversation as the client keeps it.</summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Skip)]
public sealed record ChatCompletionMessage
{
    /// <summary>system, developer, user, assistant or tool.</summary>
    [JsonPropertyName("role")] public required string Role { get; init; }
    /// <summary>A string, or an array of text parts.</summary>
    [JsonPropertyName("content")] public JsonElement? Content { get; init; }
    [JsonPropertyName("name")] public string? Name { get; init; }
    /// <summary>The function calls of an assistant message.</summary>
    [JsonPropertyName("tool_calls")] public List<ChatCompletionToolCall>? ToolCalls { get; init; }
    /// <summary>The call a tool message answers.</summary>
    [JsonPropertyName("tool_call_id")] public string? ToolCallId { get; init; }

    public const int MaxContentLength = Conversations.PostMessageRequest.MaxContentLength;

    /// <summary>The text of the content, or why it has none Agentry can read (an image part, say).</summary>
    public string? Text(out string? error)
    {
        error = null;
        if (Content is not { } content || content.ValueKind == JsonValueKind.Null) return "";
        if (content.ValueKind == JsonValueKind.String) return content.GetString();
        if (content.ValueKind != JsonValueKind.Array)
        {
            error = "A string or an array of content parts.";
            return null;
        }
        var parts = new List<string>();
        foreach (var part in content.EnumerateArray())
        {
            if (part.ValueKind != JsonValueKind.Object || !part.TryGetProperty("type", out var type) || type.GetString() is not ("text" or "input_text")
                || !part.TryGetProperty("text", out var text) || text.ValueKind != JsonValueKind.String)
            {
                error = "Only text parts ({\"type\":\"text\",\"text\":\"…\"}) are supported; images, audio and files are not.";
                return null;
            }
            parts.Add(text.GetString()!);
        }
        return string.Join("\n", parts);
    }

    /// <summary>Each tool call id once: a result must answer exactly one call.</summary>
    public static void ValidateCallIds(ValidationErrors errors, string field, IEnumerable<ChatCompletionMessage> messages)
    {
        var ids = messages.SelectMany(m => m.ToolCalls ?? []).Select(c => c.Id).ToList();
        if (ids.Distinct().Count() != ids.Count) errors.Add(field, "Each tool call id once.");
    }

    public void Validate(ValidationErrors errors, string path)
    {
        if (Role is not ("system" or "developer" or "user" or "assistant" or "tool"))
        {
            errors.Add($"{path}.role", "One of system, developer, user, assistant, tool.");
            return;
        }
        var text = Text(out var error);
        if (error is not null) errors.Add($"{path}.content", error);
        else if (text!.Length > MaxContentLength) errors.Add($"{path}.content", $"At most {MaxContentLength} characters.");
        else errors.NoNul($"{path}.content", text);
        if (Role is "user" && string.IsNullOrWhiteSpace(text) && error is null) errors.Add($"{path}.content", "A user message has text.");
        if (Role == "tool" && string.IsNullOrEmpty(ToolCallId)) errors.Add($"{path}.tool_call_id", "A tool message names the call it answers.");
        if (ToolCalls is { } calls)
        {
            if (Role != "assistant") errors.Add($"{path}.tool_calls", "Only an assistant message has tool calls.");
            for (var i = 0; i < calls.Count; i++)
                if (string.IsNullOrEmpty(calls[i].Id) || string.IsNullOrEmpty(calls[i].Function?.Name) || !ChatCompletionTool.IsJsonObject(calls[i].Function?.Arguments))
                    errors.Add($"{path}.tool_calls[{i}]", "Each call has an id, a function name and arguments as a JSON object text.");
        }
    }
}

public sealed record ChatCompletionToolCall(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("type")] string Type,
    [property: JsonPropertyName("function")] ChatCompletionFunctionCall Function);

public sealed record ChatCompletionFunctionCall(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("arguments")] string Arguments);

/// <summary>A function the client offers: <c>{"type":"function","function":{"name","description","parameters"}}</c>.</summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Skip)]
public sealed record ChatCompletionTool
{
    [JsonPropertyName("type")] public required string Type { get; init; }
    [JsonPropertyName("function")] public ChatCompletionFunction? Function { get; init; }

    public void Validate(ValidationErrors errors, string path)
    {
        if (Type != "function" || Function is null)
        {
            errors.Add($"{path}.type", "Only function tools ({\"type\":\"function\",\"function\":{…}}).");
            return;
        }
        if (Function.Name is not { } name || !System.Text.RegularExpressions.Regex.IsMatch(name, "^[A-Za-z0-9_-]{1,64}$"))
            errors.Add($"{path}.function.name", "1 to 64 letters, digits, underscores or dashes.");
        else if (name.StartsWith("transfer_to_", StringComparison.Ordinal))
            errors.Add($"{path}.function.name", "Names starting with transfer_to_ are Agentry's handoffs.");
        errors.MaxLength($"{path}.function.description", Function.Description, 1024);
        errors.NoNul($"{path}.function.description", Function.Description);
        if (Function.Parameters is { } parameters && parameters.ValueKind != JsonValueKind.Object)
            errors.Add($"{path}.function.parameters", "A JSON Schema object.");
        else if (Function.Parameters is { } schema && schema.GetRawText().Length > MaxParametersLength)
            errors.Add($"{path}.function.parameters", $"At most {MaxParametersLength} characters of JSON Schema.");
    }

    /// <summary>A function's parameter schema reaches the model as is: kept to what a real function needs.</summary>
    public const int MaxParametersLength = 16_384;

    public static bool IsJsonObject(string? text)
    {
        if (string.IsNullOrWhiteSpace(text)) return false;
        try
        {
            using var document = JsonDocument.Parse(text);
            return document.RootElement.ValueKind == JsonValueKind.Object;
        }
        catch (JsonException)
        {
            return false;
        }
    }
}

[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Skip)]
public sealed record ChatCompletionFunction
{
    [JsonPropertyName("name")] public required string Name { get; init; }
    [JsonPropertyName("description")] public string? Description { get; init; }
    /// <summary>The arguments' JSON Schema.</summary>
    [JsonPropertyName("parameters")] public JsonElement? Parameters { get; init; }
}
