using System.Runtime.CompilerServices;
using System.Text.Json;
using Agentry.Conversations;
using Microsoft.AspNetCore.Mvc;

namespace Agentry.OpenAi;

/// <summary>
/// A streamed turn as OpenAI's chunks: the role first, the reply's text as it comes (each new reply after a tool call
/// or a handoff starts a paragraph, as in the non-streamed answer), the client's tool calls, the finish reason with
/// Agentry's facts, the usage when asked for, then <c>[DONE]</c>. A failure after the stream began is an error chunk.
/// </summary>
public static class ChatCompletionChunks
{
    public const string Done = "[DONE]";

    public static async IAsyncEnumerable<string> From(IAsyncEnumerator<TurnEvent> events, bool any, string model, bool includeUsage, DateTimeOffset now,
        Observability.AgentryTelemetry telemetry, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        telemetry.StreamOpened();
        try
        {
            var id = "chatcmpl-" + Guid.NewGuid().ToString("N");
            var created = now.ToUnixTimeSeconds();
            string Chunk(ChatCompletionDelta delta, string? finish = null, ChatCompletionUsage? usage = null, AgentryTurnFacts? facts = null, bool noChoices = false) =>
                JsonSerializer.Serialize(new ChatCompletionChunk(id, "chat.completion.chunk", created, model,
                    noChoices ? [] : [new ChatCompletionChunkChoice(0, delta, finish, null)], usage, facts), OpenAiErrors.Json);

            yield return Chunk(new ChatCompletionDelta("assistant", "", null));
            var streamed = false;
            var paragraph = false;
            for (var more = any; more; more = await events.MoveNextAsync())
            {
                var (type, data) = (events.Current.Type, events.Current.Data);
                switch (type)
                {
                    case TurnEvent.Delta:
                        var text = ((TextDelta)data).Text;
                        if (text.Length == 0) break;
                        yield return Chunk(new ChatCompletionDelta(null, paragraph && streamed ? "\n\n" + text : text, null));
                        streamed = true;
                        paragraph = false;
                        break;
                    case TurnEvent.ToolCall or TurnEvent.Handoff or TurnEvent.WorkflowStep:
                        paragraph = true;
                        break;
                    case TurnEvent.Error:
                        yield return JsonSerializer.Serialize(OpenAiErrors.From((ProblemDetails)data), OpenAiErrors.Json);
                        yield break;
                    case TurnEvent.TurnCompleted:
                        var turn = (TurnDto)data;
                        // Text no delta carried (a rule's answer to a blocked message, a held call's notice) comes whole.
                        if (!streamed && ChatCompletionTurn.Text(turn) is { Length: > 0 } whole) yield return Chunk(new ChatCompletionDelta(null, whole, null));
                        if (turn.ToolCalls is { Count: > 0 } calls)
                            yield return Chunk(new ChatCompletionDelta(null, null,
                                calls.Select((c, i) => new ChatCompletionToolCallDelta(i, c.Id, "function", new ChatCompletionFunctionCall(c.Name, c.Arguments))).ToList()));
                        yield return Chunk(new ChatCompletionDelta(null, null, null), ChatCompletionTurn.FinishReason(turn), facts: ChatCompletionTurn.Facts(turn));
                        if (includeUsage) yield return Chunk(new ChatCompletionDelta(null, null, null), usage: ChatCompletionTurn.Usage(turn), noChoices: true);
                        yield return Done;
                        yield break;
                }
            }
        }
        finally
        {
            telemetry.StreamClosed();
            await events.DisposeAsync();
        }
    }
}
