using System.Net;
using System.Net.Http.Json;
using Agentry.Api;

namespace Agentry.Tests.Conversations;

public sealed class StreamingTests
{
    [Fact]
    public async Task Offline_turn_streams_deltas_then_completion_events_and_persists_the_turn()
    {
        await using var app = new AgentryApp();
        var id = (string)(await app.CreateConversationAsync("support"))["id"]!;

        using var response = await Sse.StartAsync(app.Client, $"/v1/conversations/{id}/messages", new { content = "My app crashes on start" });
        await Http.ExpectAsync(response, HttpStatusCode.OK);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        var events = await Sse.ReadAllAsync(response);

        var deltas = events.Where(e => e.Type == "message.delta").ToList();
        Assert.True(deltas.Count > 3, "the reply arrives in several deltas");
        Assert.All(deltas, d => Assert.Equal("support", (string?)d.Data!["agentId"]));
        var streamedText = string.Concat(deltas.Select(d => (string)d.Data!["text"]!));

        Assert.Equal(["message.completed", "turn.completed"], events.Where(e => e.Type != "message.delta").Select(e => e.Type).ToArray());
        var completed = events.Single(e => e.Type == "message.completed").Data!;
        Assert.Equal(streamedText, (string?)completed["content"]);
        var turn = events.Single(e => e.Type == "turn.completed").Data!;
        Assert.Equal("offline", (string?)turn["model"]);
        Assert.Equal(2, turn["messages"]!.AsArray().Count);

        var history = await app.MessagesAsync(id);
        Assert.Equal(streamedText, (string?)history[1]!["content"]);
        Assert.Equal("completed", (string?)history[1]!["status"]);
    }

    [Fact]
    public async Task Stream_flag_in_the_body_streams_from_the_chat_endpoint_too()
    {
        await using var openAi = new FakeOpenAiServer();
        await using var app = new AgentryApp(openAi);
        openAi.Enqueue(FakeReply.Say("Streaming works through the OpenAI client"));

        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat") { Content = JsonContent.Create(new { message = "stream please", stream = true }) };
        using var response = await app.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        var events = await Sse.ReadAllAsync(response);

        Assert.Equal("Streaming works through the OpenAI client", string.Concat(events.Where(e => e.Type == "message.delta").Select(e => (string)e.Data!["text"]!)));
        var turn = events.Last().Data!;
        Assert.Equal("turn.completed", events.Last().Type);
        Assert.Equal("openai/gpt-4o", (string?)turn["model"]);
        Assert.Equal(11, (int)turn["usage"]!["inputTokens"]!); // usage from the provider's final chunk
        Assert.Equal(7, (int)turn["usage"]!["outputTokens"]!);
        Assert.True(openAi.Requests.Single().Stream);
    }

    [Fact]
    public async Task Client_disconnect_cancels_the_upstream_call_and_keeps_the_partial_reply_as_interrupted()
    {
        await using var openAi = new FakeOpenAiServer();
        // Resumable streams keep a turn running when its client leaves; an operator can make leaving cancel it.
        await using var app = new AgentryApp(openAi, new() { ["Streaming:CancelOnDisconnect"] = "true" });
        var id = (string)(await app.CreateConversationAsync())["id"]!;
        // Five words, then the provider goes quiet: the answer is still running whenever the client hangs up.
        openAi.Enqueue(new FakeReply { Text = string.Join(' ', Enumerable.Range(1, 200).Select(i => $"word{i}")), StallAfterChunks = 5 });

        using (var cts = new CancellationTokenSource())
        {
            var response = await Sse.StartAsync(app.Client, $"/v1/conversations/{id}/messages", new { content = "tell me a long story" }, cts.Token);
            var received = 0;
            await foreach (var e in Sse.ReadAsync(response, cts.Token))
            {
                if (e.Type == "message.delta" && ++received == 3) break;
            }
            response.Dispose(); // hang up mid-stream
        }

        await Wait.UntilAsync(() => openAi.AbortedRequests == 1, because: "the upstream request is cancelled");
        JsonArrayHolder history = new();
        await Wait.UntilAsync(async () => (history.Value = await app.MessagesAsync(id)).Count == 2, because: "the partial turn is stored");
        var reply = history.Value![1]!;
        Assert.Equal("interrupted", (string?)reply["status"]);
        Assert.Equal("client_disconnected", (string?)reply["finishReason"]);
        Assert.StartsWith("word1 word2 word3", (string?)reply["content"]);
        Assert.DoesNotContain("word200", (string?)reply["content"]);

        // The conversation is free again, and the next turn sees the interrupted text as history.
        await app.SendAsync(id, "go on");
        var context = openAi.Requests[^1].Messages;
        Assert.Contains(context, m => (string?)m!["role"] == "assistant" && FakeRequest.Text(m).StartsWith("word1", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_client_that_loses_the_stream_reconnects_with_Last_Event_ID_and_gets_the_rest_while_the_turn_runs_on()
    {
        await using var openAi = new FakeOpenAiServer();
        await using var app = new AgentryApp(openAi);
        var id = (string)(await app.CreateConversationAsync())["id"]!;
        var release = new TaskCompletionSource();
        openAi.Enqueue(new FakeReply { Text = string.Join(' ', Enumerable.Range(1, 40).Select(i => $"word{i}")), PauseAfterChunks = 5, PauseGate = release.Task });

        string location;
        string lastId;
        using (var cts = new CancellationTokenSource())
        {
            var response = await Sse.StartAsync(app.Client, $"/v1/conversations/{id}/messages", new { content = "tell me a story" }, cts.Token);
            location = response.Headers.Location!.ToString();
            Assert.Matches($"^/v1/conversations/{id}/turns/turn_[0-9a-f]{{32}}/events$", location);
            var seen = new List<SseEvent>();
            await foreach (var e in Sse.ReadAsync(response, cts.Token))
            {
                seen.Add(e);
                if (seen.Count == 3) break;
            }
            Assert.Equal(["1", "2", "3"], seen.Select(e => e.Id ?? "").ToArray()); // every event carries its number
            lastId = seen[^1].Id!;
            response.Dispose(); // the connection drops mid-answer
        }
        release.SetResult(); // the provider goes on; the turn was not cut short

        using var resume = new HttpRequestMessage(HttpMethod.Get, location);
        resume.Headers.Add("Last-Event-ID", lastId);
        resume.Headers.Accept.ParseAdd("text/event-stream");
        using var resumed = await app.Client.SendAsync(resume, HttpCompletionOption.ResponseHeadersRead);
        var rest = new List<SseEvent>();
        await foreach (var e in Sse.ReadAsync(resumed, CancellationToken.None)) rest.Add(e);
        Assert.Equal("4", rest[0].Id);
        Assert.Equal("turn.completed", rest[^1].Type);
        var text = string.Concat(rest.Where(e => e.Type == "message.delta").Select(e => (string?)e.Data!["text"]));
        Assert.EndsWith("word40", text);

        var stored = (await app.MessagesAsync(id))[^1]!;
        Assert.Equal("completed", (string?)stored["status"]);
        Assert.EndsWith("word40", (string?)stored["content"]);

        // Another key cannot read it, and an unknown turn is a 404.
        var (_, other) = await app.CreateKeyAsync("other", ["chat", "read"]);
        using var foreign = new HttpRequestMessage(HttpMethod.Get, location);
        await Http.ProblemAsync(await app.CreateApiClient(other).SendAsync(foreign), 404, ProblemTypes.ConversationNotFound);
        await Http.ProblemAsync(await app.Client.GetAsync($"/v1/conversations/{id}/turns/turn_{new string('0', 32)}/events"), 404, ProblemTypes.NotFound);
    }

    [Fact]
    public async Task Stream_cut_off_by_the_provider_ends_with_an_error_event_and_keeps_what_was_shown()
    {
        await using var openAi = new FakeOpenAiServer();
        await using var app = new AgentryApp(openAi, new() { ["Models:Resilience:MaxRetries"] = "0" });
        var id = (string)(await app.CreateConversationAsync())["id"]!;
        // The connection drops only once the client has read the three chunks, as in a real mid-answer drop.
        var shown = new TaskCompletionSource();
        openAi.Enqueue(new FakeReply { Text = "one two three four five six", CutAfterChunks = 3, CutGate = shown.Task });

        using var response = await Sse.StartAsync(app.Client, $"/v1/conversations/{id}/messages", new { content = "count" });
        var events = new List<SseEvent>();
        await foreach (var e in Sse.ReadAsync(response))
        {
            events.Add(e);
            if (Deltas(events) == "one two three") shown.TrySetResult();
        }
        Assert.Equal("one two three", Deltas(events));
        var error = events.Last();
        Assert.Equal("error", error.Type);
        Assert.StartsWith("urn:agentry:problem:upstream-", (string?)error.Data!["type"]);
        Assert.Contains("broke while it was answering", (string?)error.Data!["detail"]); // said as it happened, not "could not connect"
        Assert.False(string.IsNullOrEmpty((string?)error.Data!["traceId"]));

        var history = await app.MessagesAsync(id);
        Assert.Equal("one two three", (string?)history[1]!["content"]);
        Assert.Equal("interrupted", (string?)history[1]!["status"]);
        Assert.Equal("error", (string?)history[1]!["finishReason"]);
    }

    [Fact]
    public async Task Stream_that_fails_before_any_output_is_a_plain_problem_response()
    {
        await using var openAi = new FakeOpenAiServer();
        await using var app = new AgentryApp(openAi, new() { ["Models:Resilience:MaxRetries"] = "0" });
        var id = (string)(await app.CreateConversationAsync())["id"]!;
        openAi.Enqueue(FakeReply.Fail(500));

        using var response = await Sse.StartAsync(app.Client, $"/v1/conversations/{id}/messages", new { content = "hello" });
        await Http.ProblemAsync(response, 502, ProblemTypes.UpstreamError);
        Assert.Empty(await app.MessagesAsync(id));
    }

    [Fact]
    public async Task Stream_that_goes_silent_times_out_with_504()
    {
        await using var openAi = new FakeOpenAiServer();
        await using var app = new AgentryApp(openAi, new()
        {
            ["Models:Resilience:StreamIdleTimeout"] = "00:00:00.500", ["Models:Resilience:TimeToFirstToken"] = "00:00:00.500", ["Models:Resilience:MaxRetries"] = "0",
        });
        var id = (string)(await app.CreateConversationAsync())["id"]!;
        openAi.Enqueue(new FakeReply { Text = "slow", Gate = new TaskCompletionSource().Task }); // never answers

        using var response = await Sse.StartAsync(app.Client, $"/v1/conversations/{id}/messages", new { content = "hello" });
        await Http.ProblemAsync(response, 504, ProblemTypes.UpstreamTimeout);
        Assert.Empty(await app.MessagesAsync(id));
    }

    sealed class JsonArrayHolder
    {
        public System.Text.Json.Nodes.JsonArray? Value { get; set; }
    }

    static string Deltas(IEnumerable<SseEvent> events) =>
        string.Concat(events.Where(e => e.Type == "message.delta").Select(e => (string)e.Data!["text"]!));
}
