using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.AI;

namespace Agentry.Models;

/// <summary>
/// The built-in model used when no provider is configured: deterministic, instant, and honest about not being an LLM.
/// It answers from the agent's persona (read from the compiled system prompt) and the user's message, and obeys two
/// directives so tool calls and handoffs can be exercised end to end without a provider:
/// <c>/tool NAME {json-args}</c> calls tool NAME, then reports its result; <c>/handoff AGENT</c> calls
/// <c>transfer_to_AGENT</c> when the agent may hand off to AGENT; "remember that …" saves a memory when the agent keeps them. An agent with knowledge bases answers by quoting and
/// citing the sources it was given (<see cref="ExtractiveAnswer"/>), or says it does not know.
/// </summary>
public sealed partial class OfflineChatClient : IChatClient
{
    public const string ModelId = ModelOptions.Offline;
    static readonly ChatClientMetadata Metadata = new("agentry-offline", defaultModelId: ModelId);

    /// <summary>
    /// Whether <paramref name="text"/> is a directive (/tool, /handoff) this model obeys, when <paramref name="client"/>
    /// is this model: it is addressed to the agent it was sent to, so routing must not move it elsewhere first.
    /// </summary>
    public static bool IsDirectiveFor(IChatClient client, string text) =>
        client.GetService<OfflineChatClient>() is not null && (IsToolDirective(text) || IsHandoffDirective(text));

    static bool IsToolDirective(string text) => text.StartsWith("/tool", StringComparison.OrdinalIgnoreCase);

    static bool IsHandoffDirective(string text) => text.StartsWith("/handoff", StringComparison.OrdinalIgnoreCase);

    public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var history = messages as IList<ChatMessage> ?? messages.ToList();
        var reply = Decide(history, options);
        var inputTokens = history.Sum(m => Tokens.Count(m.Text));
        var response = new ChatResponse(reply)
        {
            ModelId = ModelId,
            ResponseId = $"offline-{Guid.NewGuid():N}",
            FinishReason = reply.Contents.OfType<FunctionCallContent>().Any() ? ChatFinishReason.ToolCalls : ChatFinishReason.Stop,
            Usage = new UsageDetails { InputTokenCount = inputTokens, OutputTokenCount = Tokens.Count(reply.Text), TotalTokenCount = inputTokens + Tokens.Count(reply.Text) },
        };
        return Task.FromResult(response);
    }

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var response = await GetResponseAsync(messages, options, cancellationToken);
        var message = response.Messages[0];
        var messageId = $"msg-{response.ResponseId}";
        if (message.Contents.OfType<FunctionCallContent>().FirstOrDefault() is { } call)
        {
            yield return new ChatResponseUpdate(ChatRole.Assistant, [call]) { MessageId = messageId, ModelId = ModelId, ResponseId = response.ResponseId };
        }
        else
        {
            // Word-sized chunks, so a client sees the same delta stream shape a real provider produces.
            foreach (var chunk in Chunk(message.Text))
            {
                cancellationToken.ThrowIfCancellationRequested();
                yield return new ChatResponseUpdate(ChatRole.Assistant, chunk) { MessageId = messageId, ModelId = ModelId, ResponseId = response.ResponseId };
            }
        }
        yield return new ChatResponseUpdate(ChatRole.Assistant, [new UsageContent(response.Usage!)])
        {
            MessageId = messageId, ModelId = ModelId, ResponseId = response.ResponseId, FinishReason = response.FinishReason,
        };
    }

    static ChatMessage Decide(IList<ChatMessage> history, ChatOptions? options)
    {
        var persona = Persona.From(history.FirstOrDefault(m => m.Role == ChatRole.System)?.Text);

        // After a tool ran, report what it returned.
        if (history.Count > 0 && history[^1].Contents.OfType<FunctionResultContent>().FirstOrDefault() is { } result)
        {
            var name = FindCallName(history, result.CallId) ?? "the tool";
            return Say($"{name} returned: {Conversations.Context.UntrustedData.Unwrap(Tools.ToolInvoker.Text(result.Result))}");
        }

        var user = history.LastOrDefault(m => m.Role == ChatRole.User)?.Text.Trim() ?? "";
        // A directive is for the agent it was sent to; an agent that just received the conversation answers instead.
        if (!persona.JustHandedOff)
        {
            if (IsToolDirective(user)) return ToolDirective(user, options);
            if (IsHandoffDirective(user)) return HandoffDirective(user, options);
            if (RememberRequest().Match(user) is { Success: true } remember && Offers(options, Tools.ToolCatalog.Remember))
                return new ChatMessage(ChatRole.Assistant, [new FunctionCallContent($"call_{Guid.NewGuid():N}", Tools.ToolCatalog.Remember,
                    new Dictionary<string, object?> { ["fact"] = remember.Groups["fact"].Value.Trim() })]);
        }

        var firstReply = !history.Any(m => m.Role == ChatRole.Assistant) && !persona.JustHandedOff;
        var text = new StringBuilder();
        if (firstReply && persona.Greeting is { } greeting) text.Append(greeting).Append(' ');
        // What it remembers about the user, said when a conversation starts (the way a colleague would pick up).
        if (firstReply && Remembered(history.FirstOrDefault(m => m.Role == ChatRole.System)?.Text ?? "") is { Count: > 0 } facts)
            text.Append($"From earlier conversations I remember: {string.Join("; ", facts)}. ");
        // An agent with knowledge bases answers from its sources (or says it does not know), quoting and citing them.
        // A directive (/handoff, /tool) is not a question.
        var fromKnowledge = user.Length > 0 && !user.StartsWith('/') ? ExtractiveAnswer.From(history.FirstOrDefault(m => m.Role == ChatRole.System)?.Text ?? "", user) : null;
        if (fromKnowledge is { Found: true } quoted)
            text.Append($"This is {persona.Name}, quoting our documents with Agentry's offline model (no LLM is configured). {quoted.Text}");
        else
        {
            text.Append($"This is {persona.Name}, answering with Agentry's offline model (no LLM is configured, so replies are rule-based). ");
            text.Append(user.Length == 0 ? "Your message was empty." : $"You said: \"{Shorten(user, 300)}\".");
            if (fromKnowledge is { } unknown) text.Append(' ').Append(unknown.Text);
        }
        if (persona.SignOff is { } signOff) text.Append(' ').Append(signOff);
        return Say(text.ToString());
    }

    static bool Offers(ChatOptions? options, string tool) => options?.Tools?.OfType<AIFunctionDeclaration>().Any(t => t.Name == tool) == true;

    /// <summary>The memories in the system prompt's memory section (<see cref="Memory.MemoryContext"/>), without their ids and dates.</summary>
    static List<string> Remembered(string systemPrompt)
    {
        var at = systemPrompt.IndexOf("\n" + Memory.MemoryContext.Heading + "\n", StringComparison.Ordinal);
        if (at < 0) return [];
        return Conversations.Context.UntrustedData.Fenced(systemPrompt[at..], Memory.MemoryContext.FenceSource).FirstOrDefault() is { } memories
            ? [.. MemoryLine().Matches(memories).Select(m => m.Groups["text"].Value.TrimEnd('.'))]
            : [];
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"\A(?:please\s+)?remember\s+that\s+(?<fact>.+?)[.!]?\z",
        System.Text.RegularExpressions.RegexOptions.IgnoreCase | System.Text.RegularExpressions.RegexOptions.Singleline)]
    private static partial System.Text.RegularExpressions.Regex RememberRequest();

    [System.Text.RegularExpressions.GeneratedRegex(@"(?m)^- \[[^\]]+\] \([0-9-]+\) (?<text>.+)$")]
    private static partial System.Text.RegularExpressions.Regex MemoryLine();

    static ChatMessage ToolDirective(string line, ChatOptions? options)
    {
        var rest = line["/tool".Length..].Trim();
        var space = rest.IndexOfAny([' ', '\t', '{']);
        var name = space < 0 ? rest : rest[..space];
        var argsText = space < 0 ? "" : rest[space..].Trim();
        if (name.Length == 0) return Say("Usage: /tool NAME {json-arguments}");

        // An MCP tool may be named as the agent names it (mcp:server/tool) or by its function name (server__tool).
        var tool = options?.Tools?.OfType<AIFunctionDeclaration>().FirstOrDefault(t => t.Name.Equals(name, StringComparison.Ordinal) ||
            (t.AdditionalProperties.TryGetValue(Mcp.McpFunction.CanonicalNameKey, out var canonical) && name.Equals(canonical as string, StringComparison.Ordinal)));
        if (tool is null)
        {
            var available = options?.Tools?.OfType<AIFunctionDeclaration>().Select(t => t.Name).Where(n => !n.StartsWith("transfer_to_", StringComparison.Ordinal)).ToList() ?? [];
            return Say($"This agent has no tool named '{name}'. Available tools: {(available.Count == 0 ? "none" : string.Join(", ", available))}.");
        }

        Dictionary<string, object?> arguments;
        try
        {
            arguments = argsText.Length == 0 ? [] : JsonSerializer.Deserialize<Dictionary<string, object?>>(argsText) ?? [];
        }
        catch (JsonException e)
        {
            return Say($"The arguments for /tool {name} must be a JSON object: {e.Message}");
        }
        return new ChatMessage(ChatRole.Assistant, [new FunctionCallContent($"call_{Guid.NewGuid():N}", tool.Name, arguments)]);
    }

    static ChatMessage HandoffDirective(string line, ChatOptions? options)
    {
        var target = line["/handoff".Length..].Trim().Split(' ', 2, StringSplitOptions.RemoveEmptyEntries) is [var first, ..] ? first : "";
        if (target.Length == 0) return Say("Usage: /handoff AGENT");
        var toolName = $"transfer_to_{target}";
        if (options?.Tools?.OfType<AIFunctionDeclaration>().Any(t => t.Name == toolName) != true)
            return Say($"I cannot hand this conversation to '{target}': it is not one of this agent's handoff targets.");
        return new ChatMessage(ChatRole.Assistant, [new FunctionCallContent($"call_{Guid.NewGuid():N}", toolName, new Dictionary<string, object?> { ["reason"] = "requested with /handoff" })]);
    }

    static string? FindCallName(IList<ChatMessage> history, string callId) =>
        history.SelectMany(m => m.Contents).OfType<FunctionCallContent>().LastOrDefault(c => c.CallId == callId)?.Name;

    static ChatMessage Say(string text) => new(ChatRole.Assistant, text);

    static string Shorten(string text, int max) => text.Length <= max ? text : string.Concat(text.AsSpan(0, max), "…");

    static IEnumerable<string> Chunk(string text)
    {
        var start = 0;
        for (var i = 1; i <= text.Length; i++)
        {
            if (i == text.Length || text[i] == ' ')
            {
                yield return text[start..i];
                start = i;
            }
        }
    }

    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceKey is null && serviceType == typeof(ChatClientMetadata) ? Metadata :
        serviceKey is null && serviceType.IsInstanceOfType(this) ? this : null;

    public void Dispose() { }

    /// <summary>What the offline model reads back out of the compiled system prompt (see Agents/SystemPrompt).</summary>
    sealed record Persona(string Name, string? Greeting, string? SignOff, bool JustHandedOff)
    {
        public static Persona From(string? systemPrompt)
        {
            if (string.IsNullOrEmpty(systemPrompt)) return new Persona("the assistant", null, null, false);
            string? name = null, greeting = null, signOff = null;
            foreach (var raw in systemPrompt.Split('\n'))
            {
                var line = raw.Trim();
                if (name is null && line.StartsWith("You are ", StringComparison.Ordinal))
                {
                    var end = line.IndexOfAny([',', '.'], 8);
                    name = end < 0 ? line[8..] : line[8..end];
                }
                else if (line.StartsWith("- Greeting: ", StringComparison.Ordinal)) greeting = Unquote(line["- Greeting: ".Length..]);
                else if (line.StartsWith("- Sign-off: ", StringComparison.Ordinal)) signOff = Unquote(line["- Sign-off: ".Length..]);
            }
            return new Persona(name ?? "the assistant", greeting, signOff, systemPrompt.Contains("\n## Handoff\nYou have just received", StringComparison.Ordinal));
        }

        static string Unquote(string value) => value.Length >= 2 && value[0] == '"' && value[^1] == '"' ? value[1..^1] : value;
    }
}
