using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Agentry.Models;

/// <summary>
/// Some OpenAI-compatible servers and proxies ignore <c>"stream": true</c> and answer with one complete
/// <c>chat.completion</c> JSON body, which the SDK's stream reader sees as an empty stream ("ended without a finish
/// reason", three attempts, a failed turn). A streamed model call (<see cref="ModelInvoker"/>) marks its flow; for it,
/// this handler turns such an answer into the server-sent events the SDK reads — the whole answer as one chunk with its
/// finish reason, then its usage, then <c>[DONE]</c> — so it is accounted exactly like a streamed one. A body that is
/// neither events nor a completion fails the call saying what arrived.
/// </summary>
public static class UnstreamedAnswers
{
    static readonly AsyncLocal<bool> Streaming = new();

    /// <summary>Called by a streamed model call: the requests of this flow asked for a stream.</summary>
    public static void ExpectStream() => Streaming.Value = true;

    /// <summary>Innermost in the upstream client's handlers, so the SDK and every retry see what it makes of the body.</summary>
    public sealed class Handler : DelegatingHandler
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var response = await base.SendAsync(request, cancellationToken);
            if (!Streaming.Value || !response.IsSuccessStatusCode || response.Content.Headers.ContentType?.MediaType == "text/event-stream") return response;
            var mediaType = response.Content.Headers.ContentType?.MediaType;
            var body = await response.Content.ReadAsStringAsync(cancellationToken); // not a stream: the whole answer is here already
            var start = body.AsSpan().TrimStart();
            if (start.StartsWith("data:") || start.StartsWith("event:") || start.StartsWith(':'))
                response.Content = Events(body, response.Content); // events sent without their content type
            else if (Completion(body) is { } completion)
                response.Content = Events(ToEvents(completion), response.Content);
            else
            {
                response.Dispose();
                throw new UpstreamModelException(502, Api.ProblemTypes.UpstreamError, "Model provider answered with something else",
                    $"The model provider answered a streamed request with {(mediaType is null ? "a body without a content type" : mediaType)} that is neither " +
                    $"server-sent events nor a chat completion: \"{Shorten(body)}\".");
            }
            return response;
        }

        static StringContent Events(string text, HttpContent original)
        {
            var content = new StringContent(text, Encoding.UTF8, "text/event-stream");
            original.Dispose();
            return content;
        }

        static JsonObject? Completion(string body)
        {
            try
            {
                return JsonNode.Parse(body) is JsonObject json && json["choices"] is JsonArray choices && choices.All(c => c?["message"] is JsonObject) ? json : null;
            }
            catch (JsonException)
            {
                return null;
            }
        }

        /// <summary>A completion as the chunks a streaming server would have sent for it.</summary>
        static string ToEvents(JsonObject completion)
        {
            var events = new StringBuilder();
            var choices = new JsonArray();
            foreach (var choice in completion["choices"]!.AsArray().OfType<JsonObject>())
            {
                var message = choice["message"]!.AsObject();
                var delta = new JsonObject { ["role"] = message["role"]?.DeepClone() ?? "assistant" };
                if (message["content"] is { } content) delta["content"] = content.DeepClone();
                if (message["tool_calls"] is JsonArray calls)
                {
                    var indexed = new JsonArray();
                    for (var i = 0; i < calls.Count; i++)
                    {
                        var call = calls[i]!.DeepClone().AsObject();
                        call["index"] = i;
                        indexed.Add(call);
                    }
                    delta["tool_calls"] = indexed;
                }
                choices.Add(new JsonObject { ["index"] = choice["index"]?.DeepClone() ?? 0, ["delta"] = delta, ["finish_reason"] = choice["finish_reason"]?.DeepClone() ?? "stop" });
            }
            Append(events, Chunk(completion, choices));
            if (completion["usage"] is JsonObject usage)
            {
                var last = Chunk(completion, []);
                last["usage"] = usage.DeepClone();
                Append(events, last);
            }
            return events.Append("data: [DONE]\n\n").ToString();
        }

        static JsonObject Chunk(JsonObject completion, JsonArray choices) => new()
        {
            ["id"] = completion["id"]?.DeepClone(), ["object"] = "chat.completion.chunk", ["created"] = completion["created"]?.DeepClone() ?? 0,
            ["model"] = completion["model"]?.DeepClone(), ["choices"] = choices,
        };

        static void Append(StringBuilder events, JsonObject chunk) => events.Append("data: ").Append(chunk.ToJsonString()).Append("\n\n");

        static string Shorten(string body) => body.Length <= 200 ? body : body[..200] + "…";
    }
}
