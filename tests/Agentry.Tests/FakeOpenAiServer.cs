using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Agentry.Tests;

/// <summary>What the fake provider does for one request. Unset fields mean "answer normally".</summary>
public sealed record FakeReply
{
    public string? Text { get; init; }
    /// <summary>Tool calls to make instead of answering: (name, JSON arguments).</summary>
    public IReadOnlyList<(string Name, string Arguments)>? ToolCalls { get; init; }
    public int Status { get; init; } = 200;
    public string? RetryAfter { get; init; }
    /// <summary>Wait this long before answering (to provoke timeouts).</summary>
    public TimeSpan Delay { get; init; }
    /// <summary>Hold the answer until this completes (to hold a turn open).</summary>
    public Task? Gate { get; init; }
    /// <summary>Pause between streamed chunks.</summary>
    public TimeSpan ChunkDelay { get; init; }
    /// <summary>Abort the connection after this many streamed chunks (a connection reset mid-answer).</summary>
    public int? CutAfterChunks { get; init; }
    /// <summary>With <see cref="CutAfterChunks"/>: the cut waits for this, so a test can first see what came before it.</summary>
    public Task? CutGate { get; init; }
    /// <summary>End the response cleanly after this many streamed chunks, with no finish reason and no [DONE] (a truncated answer).</summary>
    public int? EndAfterChunks { get; init; }
    /// <summary>Send this many chunks, then go silent without closing (a provider that hangs mid-answer; 0: right after the headers).</summary>
    public int? StallAfterChunks { get; init; }
    /// <summary>After this many chunks the stream waits for <see cref="PauseGate"/>, then goes on to the end.</summary>
    public int? PauseAfterChunks { get; init; }
    public Task? PauseGate { get; init; }
    public int PromptTokens { get; init; } = 11;
    public int CompletionTokens { get; init; } = 7;
    /// <summary>Answers a streamed request with a plain chat.completion JSON body, as some compatible servers and proxies do.</summary>
    public bool IgnoreStream { get; init; }
    /// <summary>Answers 200 with this body and content type instead of a completion (a proxy's error page, say).</summary>
    public (string Body, string ContentType)? Raw { get; init; }

    public static FakeReply Say(string text) => new() { Text = text };
    public static FakeReply Fail(int status, string? retryAfter = null) => new() { Status = status, RetryAfter = retryAfter };
    public static FakeReply CallTool(string name, string arguments) => new() { ToolCalls = [(name, arguments)] };
}

/// <summary>A request the fake provider received.</summary>
public sealed record FakeRequest(string Path, JsonObject Body, IHeaderDictionary Headers, DateTimeOffset ReceivedAt)
{
    public bool Stream => Body["stream"]?.GetValue<bool>() == true;
    public JsonArray Messages => Body["messages"]!.AsArray();
    public string LastUserText => Text(Messages.Last(m => (string?)m!["role"] == "user"));

    /// <summary>A message's text, whether the client sent content as a string or as an array of parts.</summary>
    public static string Text(JsonNode? message) => message?["content"] switch
    {
        JsonArray parts => string.Concat(parts.Select(p => (string?)p!["text"])),
        JsonNode content => content.ToString(),
        null => "",
    };
}

/// <summary>
/// An OpenAI-compatible chat completions server on a loopback port, so tests drive Agentry's real OpenAI SDK path.
/// Replies are scripted per request with <see cref="Enqueue"/>; with nothing queued it echoes the user's message.
/// </summary>
public sealed class FakeOpenAiServer : IAsyncDisposable
{
    readonly WebApplication _app;
    readonly ConcurrentQueue<FakeReply> _replies = new();
    readonly ConcurrentQueue<FakeRequest> _requests = new();
    int _aborted;
    readonly ConcurrentQueue<(string Body, string Signature)> _webhooks = new();

    readonly ConcurrentQueue<(string Body, Dictionary<string, string> Headers)> _signed = new();

    /// <summary>Calls received on /hooks, oldest first, with every header (a Standard Webhooks receiver verifies them).</summary>
    public IReadOnlyList<(string Body, Dictionary<string, string> Headers)> SignedWebhooks => _signed.ToArray();

    /// <summary>Webhook calls received on /webhook, oldest first.</summary>
    public IReadOnlyList<(string Body, string Signature)> Webhooks => _webhooks.ToArray();

    public FakeOpenAiServer()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel().UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        _app = builder.Build();
        _app.MapPost("/v1/chat/completions", HandleAsync);
        _app.MapPost("/openai/v1/chat/completions", HandleAsync);
        // A webhook receiver for alert notifications: records each body with its signature header.
        _app.MapPost("/webhook", async (HttpContext context) =>
        {
            using var reader = new StreamReader(context.Request.Body);
            _webhooks.Enqueue((await reader.ReadToEndAsync(), context.Request.Headers["X-Agentry-Signature"].ToString()));
            return Results.Ok();
        });
        _app.MapPost("/hooks", async (HttpContext context) =>
        {
            using var reader = new StreamReader(context.Request.Body);
            _signed.Enqueue((await reader.ReadToEndAsync(), context.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase)));
            return Results.Ok();
        });
        // Embeddings: each word hashed into one of 256 dimensions (a bag of words), so texts that share words are similar.
        _app.MapPost("/v1/embeddings", async (HttpContext context) =>
        {
            var body = (await JsonNode.ParseAsync(context.Request.Body))!.AsObject();
            _embeddingRequests.Enqueue(body);
            if (EmbeddingsFailWith is { } status) return Results.StatusCode(status);
            var inputs = body["input"] is JsonArray array ? array.Select(i => (string)i!).ToList() : [(string)body["input"]!];
            var data = inputs.Select((text, index) => new { @object = "embedding", index, embedding = BagOfWords(text) }).ToList();
            return Results.Json(new { @object = "list", data, model = (string?)body["model"], usage = new { prompt_tokens = 1, total_tokens = 1 } });
        });
        _app.MapGet("/v1/models", () => Results.Json(new { @object = "list", data = new[] { new { id = "gpt-4o", @object = "model" } } }));
        // A plain web page for tools that fetch URLs: /page?size=N&delayMs=M, or /page?text=T for a page saying T.
        _app.MapGet("/page", async (int? size, int? delayMs, string? text, HttpContext context) =>
        {
            if (delayMs is > 0)
            {
                Interlocked.Increment(ref _slowPages);
                await Task.Delay(delayMs.Value, context.RequestAborted);
            }
            return Results.Text("<p>" + (text ?? new string('x', size ?? 20)) + "</p>", "text/html");
        });
        _app.StartAsync().GetAwaiter().GetResult();
        var address = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        BaseUrl = address + "/v1";
        RootUrl = address;
    }

    /// <summary>What to give Agentry as OPENAI_BASE_URL.</summary>
    public string BaseUrl { get; }
    public string RootUrl { get; }
    public IReadOnlyList<FakeRequest> Requests => _requests.ToArray();
    /// <summary>Bodies of the /v1/embeddings requests received, oldest first.</summary>
    public IReadOnlyList<JsonObject> EmbeddingRequests => _embeddingRequests.ToArray();
    readonly ConcurrentQueue<JsonObject> _embeddingRequests = new();
    /// <summary>While set, /v1/embeddings answers with this status (a provider whose embedding model is down).</summary>
    public int? EmbeddingsFailWith { get; set; }

    static float[] BagOfWords(string text)
    {
        var vector = new float[256];
        foreach (var word in System.Text.RegularExpressions.Regex.Matches(text.ToLowerInvariant(), "[a-z0-9]+").Select(m => m.Value))
            vector[(int)(StableHash(word) % 256)] += 1; // the same dimensions in every run, so which words collide never changes
        return vector;
    }
    /// <summary>Requests for a /page with a delay that have started waiting (a tool stuck on a slow site).</summary>
    public int SlowPagesStarted => Volatile.Read(ref _slowPages);
    int _slowPages;

    /// <summary>How many requests the client abandoned before the fake finished answering.</summary>
    public int AbortedRequests => Volatile.Read(ref _aborted);

    /// <summary>FNV-1a over the word's UTF-16 code units: string hash codes change from process to process.</summary>
    static uint StableHash(string word)
    {
        var hash = 2166136261u;
        foreach (var c in word) hash = (hash ^ c) * 16777619u;
        return hash;
    }

    public FakeOpenAiServer Enqueue(params FakeReply[] replies)
    {
        foreach (var reply in replies) _replies.Enqueue(reply);
        return this;
    }

    async Task HandleAsync(HttpContext context)
    {
        var body = (await JsonNode.ParseAsync(context.Request.Body))!.AsObject();
        var headers = new HeaderDictionary(context.Request.Headers.ToDictionary(h => h.Key, h => h.Value)); // Kestrel reuses the live collection
        var request = new FakeRequest(context.Request.Path, body, headers, DateTimeOffset.UtcNow);
        _requests.Enqueue(request);
        var reply = _replies.TryDequeue(out var queued) ? queued : FakeReply.Say($"fake reply to: {request.LastUserText}");
        var aborted = context.RequestAborted;
        try
        {
            if (reply.Gate is not null) await reply.Gate.WaitAsync(aborted);
            if (reply.Delay > TimeSpan.Zero) await Task.Delay(reply.Delay, aborted);
            if (reply.Status != 200)
            {
                context.Response.StatusCode = reply.Status;
                if (reply.RetryAfter is not null) context.Response.Headers.RetryAfter = reply.RetryAfter;
                await context.Response.WriteAsJsonAsync(new { error = new { message = $"fake failure {reply.Status}", type = "server_error", code = (string?)null } }, aborted);
                return;
            }
            var model = (string?)body["model"] ?? "gpt-4o";
            if (reply.Raw is { } raw)
            {
                context.Response.ContentType = raw.ContentType;
                await context.Response.WriteAsync(raw.Body, aborted);
                return;
            }
            if (reply.IgnoreStream) context.Response.ContentType = "application/json";
            if (request.Stream && !reply.IgnoreStream) await StreamAsync(context, reply, model, aborted);
            else await AnswerAsync(context, reply, model, aborted);
        }
        catch (OperationCanceledException) when (aborted.IsCancellationRequested)
        {
            Interlocked.Increment(ref _aborted);
        }
        catch (IOException)
        {
            Interlocked.Increment(ref _aborted);
        }
    }

    static JsonObject Completion(FakeReply reply, string model)
    {
        var message = new JsonObject { ["role"] = "assistant", ["content"] = reply.ToolCalls is null ? reply.Text : null };
        if (reply.ToolCalls is not null) message["tool_calls"] = ToolCallsJson(reply.ToolCalls, includeIndex: false);
        return new JsonObject
        {
            ["id"] = "chatcmpl-fake", ["object"] = "chat.completion", ["created"] = 1_764_000_000, ["model"] = model,
            ["choices"] = new JsonArray(new JsonObject { ["index"] = 0, ["message"] = message, ["finish_reason"] = reply.ToolCalls is null ? "stop" : "tool_calls" }),
            ["usage"] = Usage(reply),
        };
    }

    /// <summary>A plain JSON answer; the cut, truncation and stall faults apply to it too, halfway through the body.</summary>
    static async Task AnswerAsync(HttpContext context, FakeReply reply, string model, CancellationToken aborted)
    {
        var body = Completion(reply, model).ToJsonString();
        if (reply.CutAfterChunks is null && reply.EndAfterChunks is null && reply.StallAfterChunks is null)
        {
            await context.Response.WriteAsync(body, aborted);
            return;
        }
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(body[..(body.Length / 2)], aborted);
        await context.Response.Body.FlushAsync(aborted);
        if (reply.ChunkDelay > TimeSpan.Zero) await Task.Delay(reply.ChunkDelay, aborted);
        if (reply.CutAfterChunks is not null) context.Abort();
        else if (reply.StallAfterChunks is not null) await Task.Delay(Timeout.Infinite, aborted);
    }

    static async Task StreamAsync(HttpContext context, FakeReply reply, string model, CancellationToken aborted)
    {
        context.Response.ContentType = "text/event-stream";
        var chunks = new List<JsonObject>();
        if (reply.ToolCalls is not null)
        {
            chunks.Add(Chunk(model, new JsonObject { ["role"] = "assistant", ["tool_calls"] = ToolCallsJson(reply.ToolCalls, includeIndex: true) }, null));
            chunks.Add(Chunk(model, new JsonObject(), "tool_calls"));
        }
        else
        {
            var words = (reply.Text ?? "").Split(' ');
            for (var i = 0; i < words.Length; i++)
                chunks.Add(Chunk(model, new JsonObject { ["role"] = "assistant", ["content"] = (i == 0 ? "" : " ") + words[i] }, null));
            chunks.Add(Chunk(model, new JsonObject(), "stop"));
        }
        var usage = Chunk(model, null, null);
        usage["choices"] = new JsonArray();
        usage["usage"] = Usage(reply);
        chunks.Add(usage);

        await context.Response.Body.FlushAsync(aborted); // headers out: the provider has accepted the request
        for (var i = 0; i < chunks.Count; i++)
        {
            if (reply.CutAfterChunks is { } cut && i == cut)
            {
                if (reply.CutGate is not null) await reply.CutGate.WaitAsync(aborted);
                context.Abort(); // the connection drops mid-answer, with no [DONE]
                return;
            }
            if (reply.EndAfterChunks is { } end && i == end) return; // the body ends cleanly, unfinished
            if (reply.PauseAfterChunks is { } pause && i == pause && reply.PauseGate is not null) await reply.PauseGate.WaitAsync(aborted);
            if (reply.StallAfterChunks is { } stall && i == stall)
            {
                await Task.Delay(Timeout.Infinite, aborted); // silent until the client gives up
                return;
            }
            await context.Response.WriteAsync($"data: {chunks[i].ToJsonString()}\n\n", Encoding.UTF8, aborted);
            await context.Response.Body.FlushAsync(aborted);
            if (reply.ChunkDelay > TimeSpan.Zero) await Task.Delay(reply.ChunkDelay, aborted);
        }
        await context.Response.WriteAsync("data: [DONE]\n\n", aborted);
    }

    static JsonObject Chunk(string model, JsonObject? delta, string? finishReason) => new()
    {
        ["id"] = "chatcmpl-fake", ["object"] = "chat.completion.chunk", ["created"] = 1_764_000_000, ["model"] = model,
        ["choices"] = delta is null ? new JsonArray() : new JsonArray(new JsonObject { ["index"] = 0, ["delta"] = delta, ["finish_reason"] = finishReason }),
    };

    static JsonArray ToolCallsJson(IReadOnlyList<(string Name, string Arguments)> calls, bool includeIndex)
    {
        var array = new JsonArray();
        for (var i = 0; i < calls.Count; i++)
        {
            var call = new JsonObject
            {
                ["id"] = $"call_{i + 1}", ["type"] = "function",
                ["function"] = new JsonObject { ["name"] = calls[i].Name, ["arguments"] = calls[i].Arguments },
            };
            if (includeIndex) call["index"] = i;
            array.Add(call);
        }
        return array;
    }

    static JsonObject Usage(FakeReply reply) => new()
    {
        ["prompt_tokens"] = reply.PromptTokens, ["completion_tokens"] = reply.CompletionTokens, ["total_tokens"] = reply.PromptTokens + reply.CompletionTokens,
    };

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
