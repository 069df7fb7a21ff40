using System.Net.Http.Json;
using Agentry.Api;
using Agentry.Models;
using Microsoft.Extensions.Time.Testing;

namespace Agentry.Tests.Models;

/// <summary>
/// A provider that cuts, truncates, resets and hangs, reproduced by the fake upstream: every turn must say what really
/// happened, in its status code or SSE events and in what it stores.
/// </summary>
public sealed class UpstreamFaultTests
{
    static readonly FakeReply Truncated = new() { Text = "one two three four", EndAfterChunks = 2 };

    [Fact]
    public async Task A_streamed_answer_that_ends_without_a_finish_reason_is_an_error_not_a_completed_reply()
    {
        await using var openAi = new FakeOpenAiServer();
        await using var app = new AgentryApp(openAi);
        var id = (string)(await app.CreateConversationAsync())["id"]!;
        openAi.Enqueue(Truncated with { ChunkDelay = TimeSpan.FromMilliseconds(50) });

        using var response = await Sse.StartAsync(app.Client, $"/v1/conversations/{id}/messages", new { content = "count" });
        var events = await Sse.ReadAllAsync(response);
        Assert.Equal("one two", string.Concat(events.Where(e => e.Type == "message.delta").Select(e => (string)e.Data!["text"]!)));
        Assert.DoesNotContain(events, e => e.Type is "turn.completed" or "message.completed");
        var error = events.Last();
        Assert.Equal("error", error.Type);
        Assert.Equal(ProblemTypes.UpstreamIncomplete, (string?)error.Data!["type"]);
        Assert.Equal(502, (int?)error.Data!["status"]);

        var reply = (await app.MessagesAsync(id))[1]!;
        Assert.Equal("one two", (string?)reply["content"]);
        Assert.Equal("interrupted", (string?)reply["status"]);
        Assert.Equal("error", (string?)reply["finishReason"]);
        Assert.Single(openAi.Requests); // the user saw part of it, so it is not asked again
    }

    [Fact]
    public async Task A_truncated_answer_to_a_plain_request_is_asked_again_because_nobody_saw_it()
    {
        await using var openAi = new FakeOpenAiServer();
        await using var app = new AgentryApp(openAi);
        openAi.Enqueue(Truncated, FakeReply.Say("the whole answer"));

        var turn = await Http.JsonAsync(await app.Client.PostAsJsonAsync("/v1/chat", new { message = "hello", agentId = "support" }));
        Assert.Equal("the whole answer", (string?)turn["messages"]![1]!["content"]);
        Assert.Equal("stop", (string?)turn["messages"]![1]!["finishReason"]);
        Assert.Equal(2, openAi.Requests.Count);
    }

    [Fact]
    public async Task A_plain_request_whose_answers_keep_being_truncated_is_a_502_and_stores_nothing()
    {
        await using var openAi = new FakeOpenAiServer();
        await using var app = new AgentryApp(openAi, new() { ["Models:Resilience:MaxRetries"] = "1" });
        var id = (string)(await app.CreateConversationAsync())["id"]!;
        openAi.Enqueue(Truncated, Truncated);

        var response = await app.Client.PostAsJsonAsync($"/v1/conversations/{id}/messages", new { content = "hello" });
        var problem = await Http.ProblemAsync(response, 502, ProblemTypes.UpstreamIncomplete);
        Assert.Contains("finish reason", (string?)problem["detail"]);
        Assert.Equal(2, openAi.Requests.Count);
        Assert.Empty(await app.MessagesAsync(id)); // retry-safe: the client may simply send it again
    }

    [Fact]
    public async Task A_connection_reset_mid_answer_says_the_connection_broke_not_that_it_could_not_connect()
    {
        await using var openAi = new FakeOpenAiServer();
        await using var app = new AgentryApp(openAi, new() { ["Models:Resilience:MaxRetries"] = "0" });
        // The pause lets Agentry read the first chunks before the reset, as a real mid-answer drop does.
        openAi.Enqueue(new FakeReply { Text = "one two three four", CutAfterChunks = 2, ChunkDelay = TimeSpan.FromMilliseconds(100) });

        var response = await app.Client.PostAsJsonAsync("/v1/chat", new { message = "hello", agentId = "support" });
        var problem = await Http.ProblemAsync(response, 502, ProblemTypes.UpstreamError);
        Assert.Contains("broke while it was answering", (string?)problem["detail"]);
        Assert.DoesNotContain("could not connect", (string?)problem["detail"]);
    }

    [Fact]
    public async Task A_call_beyond_the_concurrent_call_limit_is_a_503_with_retry_after_and_stores_nothing()
    {
        await using var openAi = new FakeOpenAiServer();
        await using var app = new AgentryApp(openAi, new() { ["Models:Resilience:MaxConcurrentCalls"] = "1" });
        var release = new TaskCompletionSource();
        openAi.Enqueue(new FakeReply { Text = "slow answer", Gate = release.Task }, new FakeReply { Text = "second" });
        var first = app.Client.PostAsJsonAsync("/v1/chat", new { message = "first", agentId = "support" });
        await Wait.UntilAsync(() => Task.FromResult(openAi.Requests.Count == 1), because: "the first call reached the provider");

        var id = (string)(await app.CreateConversationAsync())["id"]!;
        var refused = await app.Client.PostAsJsonAsync($"/v1/conversations/{id}/messages", new { content = "second" });
        var problem = await Http.ProblemAsync(refused, 503, ProblemTypes.UpstreamUnavailable);
        Assert.Contains("MaxConcurrentCalls", (string?)problem["detail"]);
        Assert.Equal("1", refused.Headers.RetryAfter?.ToString());
        Assert.Empty(await app.MessagesAsync(id));
        Assert.Single(openAi.Requests); // refused before it was sent

        release.SetResult();
        Assert.Equal(System.Net.HttpStatusCode.OK, (await first).StatusCode);
        var again = await app.Client.PostAsJsonAsync($"/v1/conversations/{id}/messages", new { content = "second" });
        Assert.Equal(System.Net.HttpStatusCode.OK, again.StatusCode); // the slot is free again
    }

    // These run on a fake clock: a limit is shown to hold by advancing time to just before it (nothing happens) and past it
    // (the call ends), not by how long a test took on a busy machine.

    [Fact]
    public async Task A_provider_that_accepts_the_request_and_never_answers_fails_at_the_first_token_limit()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var openAi = new FakeOpenAiServer();
        await using var app = new AgentryApp(openAi, new() { ["Models:Resilience:TimeToFirstToken"] = "00:00:15" }, services: AgentryApp.On(clock));
        openAi.Enqueue(new FakeReply { Text = "never", Gate = new TaskCompletionSource().Task }, new FakeReply { Text = "never", Gate = new TaskCompletionSource().Task });

        var response = app.Client.PostAsJsonAsync("/v1/chat", new { message = "hello", agentId = "support" });
        await Wait.UntilAsync(() => openAi.Requests.Count == 1, because: "the provider has the request");
        clock.Advance(TimeSpan.FromSeconds(14.9));
        Assert.False(await Finishes(response), "still waiting just before the limit");
        clock.Advance(TimeSpan.FromSeconds(0.2));
        var problem = await Http.ProblemAsync(await response, 504, ProblemTypes.UpstreamTimeout);
        Assert.Contains("did not start answering within 15 s", (string?)problem["detail"]);
    }

    [Fact]
    public async Task A_provider_that_sends_headers_then_nothing_fails_at_the_first_token_limit()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var openAi = new FakeOpenAiServer();
        await using var app = new AgentryApp(openAi, new() { ["Models:Resilience:TimeToFirstToken"] = "00:00:20" }, services: AgentryApp.On(clock));
        openAi.Enqueue(new FakeReply { Text = "never", StallAfterChunks = 0 });

        var response = app.Client.PostAsJsonAsync("/v1/chat", new { message = "hello", agentId = "support" });
        await Wait.UntilAsync(() => openAi.Requests.Count == 1, because: "the provider has the request");
        clock.Advance(TimeSpan.FromSeconds(19));
        Assert.False(await Finishes(response), "still waiting just before the limit");
        clock.Advance(TimeSpan.FromSeconds(2));
        await Http.ProblemAsync(await response, 504, ProblemTypes.UpstreamTimeout);
        await Wait.UntilAsync(() => openAi.AbortedRequests == 1, because: "the hung request is abandoned upstream too");
    }

    [Fact]
    public async Task A_stream_that_stalls_mid_answer_ends_with_a_timeout_event_and_keeps_what_was_shown()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var openAi = new FakeOpenAiServer();
        await using var app = new AgentryApp(openAi, new() { ["Models:Resilience:StreamIdleTimeout"] = "00:00:20" }, services: AgentryApp.On(clock));
        var id = (string)(await app.CreateConversationAsync())["id"]!;
        openAi.Enqueue(new FakeReply { Text = "one two three four", StallAfterChunks = 2 });

        using var response = await Sse.StartAsync(app.Client, $"/v1/conversations/{id}/messages", new { content = "count" });
        var events = new List<SseEvent>();
        var reading = Task.Run(async () => { await foreach (var e in Sse.ReadAsync(response)) events.Add(e); });
        await Wait.UntilAsync(() => events.Count(e => e.Type == "message.delta") == 2, because: "two chunks arrived, then the provider went quiet");
        clock.Advance(TimeSpan.FromSeconds(19));
        Assert.False(await Finishes(reading), "still streaming just before the idle limit");
        clock.Advance(TimeSpan.FromSeconds(2));
        await reading;
        var error = events.Last();
        Assert.Equal("error", error.Type);
        Assert.Equal(ProblemTypes.UpstreamTimeout, (string?)error.Data!["type"]);
        Assert.Contains("stopped sending its answer for 20 s", (string?)error.Data!["detail"]);
        var reply = (await app.MessagesAsync(id))[1]!;
        Assert.Equal("one two", (string?)reply["content"]);
        Assert.Equal("interrupted", (string?)reply["status"]);
    }

    [Fact]
    public void The_default_limits_bound_a_hung_provider_in_tens_of_seconds_not_minutes()
    {
        var defaults = new ModelResilienceOptions();
        Assert.True(defaults.EffectiveTimeToFirstToken <= TimeSpan.FromSeconds(30));
        Assert.True(defaults.StreamIdleTimeout <= TimeSpan.FromSeconds(30));
        Assert.True(defaults.AttemptTimeout <= defaults.TimeToFirstToken);
    }

    /// <summary>Whether the task completes within a moment of real time (a timer that was due has fired by then).</summary>
    static async Task<bool> Finishes(Task task) => await Task.WhenAny(task, Task.Delay(TimeSpan.FromMilliseconds(300))) == task;
}
