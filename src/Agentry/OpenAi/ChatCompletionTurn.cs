using System.Text.Json;
using Agentry.Agents;
using Agentry.Api;
using Agentry.Conversations;
using Agentry.Conversations.Context;
using Agentry.Data;
using Agentry.Security;
using Microsoft.Extensions.AI;

namespace Agentry.OpenAi;

/// <summary>
/// A chat completion request as an Agentry turn, and the turn as a chat completion. Stateless by default: the request's
/// messages are the conversation, stored as a new conversation of the calling key. With a conversation id (header or
/// metadata) only the new input counts: the user's last message, or the results of the client's tool calls.
/// </summary>
public static class ChatCompletionTurn
{
    /// <summary>What both OpenAI doors ask of a turn, whatever their request shape.</summary>
    public sealed record ClientInput(
        IReadOnlyList<ChatCompletionMessage> Messages, string? Instructions, Models.SamplingSettings Sampling, IReadOnlyList<ChatCompletionFunction> Tools,
        bool ToolsOff, string? User);

    public static TurnRequest Request(ChatCompletionRequest request, AgentDefinition agent, string? conversationId, Caller caller, string? traceId)
    {
        var stop = request.StopSequences(out var sequences) is null && sequences.Count > 0 ? sequences : null;
        var toolsOff = request.ToolChoice is { ValueKind: JsonValueKind.String } choice && choice.GetString() == "none";
        return Request(new ClientInput(request.Messages, null, new Models.SamplingSettings(request.Temperature, request.TopP, request.OutputLimit, stop),
            request.Tools?.Select(t => t.Function!).ToList() ?? [], toolsOff, request.User), agent, conversationId, caller, traceId);
    }

    public static TurnRequest Request(ClientInput input, AgentDefinition agent, string? conversationId, Caller caller, string? traceId)
    {
        var messages = input.Messages;
        var preferences = string.Join("\n\n", new[] { input.Instructions }.Concat(messages.Where(m => m.Role is "system" or "developer").Select(m => m.Text(out _)))
            .Where(t => !string.IsNullOrWhiteSpace(t)));
        var spoken = messages.Where(m => m.Role is not ("system" or "developer")).ToList();
        var trailingResults = spoken.AsEnumerable().Reverse().TakeWhile(m => m.Role == "tool").Reverse().ToList();
        var turn = new TurnRequest(conversationId, trailingResults.Count > 0 ? "" : spoken[^1].Text(out _)!, conversationId is null ? agent.Id : null, input.User, caller, traceId)
        {
            NewConversationId = conversationId is null ? Ids.New(Ids.ConversationPrefix) : null,
            ClientInstructions = preferences.Length > 0 ? preferences : null,
            Sampling = input.Sampling,
            ClientTools = ClientTools(input),
        };
        if (trailingResults.Count == 0)
            return conversationId is null ? turn with { Transcript = Transcript(spoken[..^1]) } : turn;

        var results = trailingResults.Select(m => new FunctionResultContent(m.ToolCallId!, m.Text(out _))).ToList();
        if (conversationId is not null) return turn with { ClientToolResults = results }; // the calls are stored with the conversation
        // Stateless: the assistant message before the results holds the calls they answer, which must be calls of the
        // client's own functions of this request (a result claimed for one of the agent's tools would be made up).
        var callsAt = spoken.Count - trailingResults.Count - 1;
        if (callsAt < 0 || spoken[callsAt] is not { Role: "assistant", ToolCalls: { Count: > 0 } calls })
            throw new ApiProblemException(400, ProblemTypes.ToolResultsMismatch, "Tool results without their calls",
                "Tool results follow the assistant's tool calls they answer.");
        if (calls.FirstOrDefault(c => input.ToolsOff || input.Tools.All(t => t.Name != c.Function.Name)) is { } foreign)
            throw new ApiProblemException(400, ProblemTypes.ToolResultsMismatch, "Tool results for a function not offered",
                $"'{foreign.Function.Name}' is not one of the functions this request offers in tools: only the client's own functions have results the client sends.");
        return turn with
        {
            ClientToolResults = results,
            ClientToolCalls = calls.Select(c => new ClientToolCallDto(c.Id, c.Function.Name, c.Function.Arguments).ToContent()).ToList(),
            Transcript = Transcript(spoken[..callsAt]),
        };
    }

    /// <summary>
    /// The client's functions as the model will see them: their descriptions are the client's words, fenced like any
    /// text not from the operator. Whether the answering agent may have them is checked when the turn opens (TurnStore).
    /// </summary>
    static List<AIFunctionDeclaration> ClientTools(ClientInput input)
    {
        if (input.Tools.Count == 0 || input.ToolsOff) return [];
        return input.Tools.Select(t => AIFunctionFactory.CreateDeclaration(t.Name,
            string.IsNullOrWhiteSpace(t.Description) ? "" : UntrustedData.Wrap("client function", t.Description),
            t.Parameters is { ValueKind: JsonValueKind.Object } schema ? schema : EmptySchema)).ToList();
    }

    static readonly JsonElement EmptySchema = JsonDocument.Parse("""{"type":"object","properties":{}}""").RootElement.Clone();

    /// <summary>What the client says was said before, as the model will read it (earlier tool results fenced as any tool result).</summary>
    static List<ChatMessage> Transcript(List<ChatCompletionMessage> messages)
    {
        var names = messages.SelectMany(m => m.ToolCalls ?? []).GroupBy(c => c.Id).ToDictionary(g => g.Key, g => g.First().Function.Name);
        var transcript = new List<ChatMessage>(messages.Count);
        foreach (var message in messages)
        {
            var text = message.Text(out _) ?? "";
            switch (message.Role)
            {
                case "user":
                    transcript.Add(new ChatMessage(ChatRole.User, text));
                    break;
                case "assistant":
                    // What the client says the agent said: the client's claim, so fenced (it is stored marked as the client's).
                    var contents = new List<AIContent>();
                    if (text.Length > 0) contents.Add(new TextContent(UntrustedData.Wrap(UntrustedData.ClientTranscript, text)));
                    foreach (var call in message.ToolCalls ?? [])
                        contents.Add(new ClientToolCallDto(call.Id, call.Function.Name, call.Function.Arguments).ToContent());
                    if (contents.Count > 0) transcript.Add(new ChatMessage(ChatRole.Assistant, contents));
                    break;
                case "tool":
                    var name = names.GetValueOrDefault(message.ToolCallId!, "function");
                    transcript.Add(new ChatMessage(ChatRole.Tool, [new FunctionResultContent(message.ToolCallId!, UntrustedData.Wrap($"tool {name}", text))]));
                    break;
            }
        }
        return transcript;
    }

    public static ChatCompletion Completion(string model, TurnDto turn, DateTimeOffset now)
    {
        var toolCalls = turn.ToolCalls?.Select(c => new ChatCompletionToolCall(c.Id, "function", new ChatCompletionFunctionCall(c.Name, c.Arguments))).ToList();
        var text = Text(turn);
        // As OpenAI answers: a response that only calls tools has no content.
        var answer = new ChatCompletionAnswer("assistant", text.Length == 0 && toolCalls is { Count: > 0 } ? null : text, null, toolCalls is { Count: > 0 } ? toolCalls : null);
        return new ChatCompletion(Id(turn), "chat.completion", now.ToUnixTimeSeconds(), model,
            [new ChatCompletionChoice(0, answer, FinishReason(turn), null)], Usage(turn), Facts(turn));
    }

    /// <summary>Everything the agents said this turn, in order: each reply (a tool call or a handoff between them) its own paragraph.</summary>
    public static string Text(TurnDto turn) =>
        string.Join("\n\n", turn.Messages.Where(m => m.Role == MessageRoles.Assistant && m.Content.Length > 0).Select(m => m.Content));

    public static string Id(TurnDto turn) => "chatcmpl-" + turn.Messages[^1].Id;

    public static ChatCompletionUsage Usage(TurnDto turn) => new(turn.Usage.InputTokens, turn.Usage.OutputTokens, turn.Usage.InputTokens + turn.Usage.OutputTokens);

    /// <summary>Agentry's finish reasons in OpenAI's words: a rule's block is a content filter; a held call or a tool limit still stopped.</summary>
    public static string FinishReason(TurnDto turn) => turn.ToolCalls is { Count: > 0 } ? "tool_calls" : turn.Messages[^1].FinishReason switch
    {
        "length" => "length",
        "rule_blocked" => "content_filter",
        _ => "stop",
    };

    public static AgentryTurnFacts Facts(TurnDto turn)
    {
        var last = turn.Messages[^1];
        JsonElement? citations = last.Metadata is { ValueKind: JsonValueKind.Object } metadata && metadata.TryGetProperty("citations", out var cited) ? cited : null;
        return new AgentryTurnFacts(turn.ConversationId, turn.AgentId, turn.Status, last.FinishReason ?? "stop", turn.PendingApprovalId, citations);
    }
}
