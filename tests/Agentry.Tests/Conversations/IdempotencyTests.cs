using System.Net;
using System.Net.Http.Json;
using Agentry.Api;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Agentry.Tests.Conversations;

/// <summary>A client that timed out retries with the same Idempotency-Key: one turn, one refund, the same answer.</summary>
public sealed class IdempotencyTests
{
    static HttpRequestMessage Chat(object body, string key, bool stream = false)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat") { Content = JsonContent.Create(body) };
        request.Headers.Add("Idempotency-Key", key);
        if (stream) request.Headers.Accept.Add(new System.Net.Http.Headers.MediaTypeWithQualityHeaderValue("text/event-stream"));
        return request;
    }

    [Fact]
    public async Task A_retry_with_the_same_key_returns_the_first_result_and_runs_nothing_twice()
    {
        var errors = new ErrorLog();
        await using var app = new AgentryApp(services: services => services.AddSingleton<ILoggerProvider>(errors));
        var body = new { message = "/tool refund {\"amount\": 40, \"reason\": \"late delivery\"}", agentId = "billing" };
        var first = await app.Client.SendAsync(Chat(body, "order-1234-refund"));
        await Http.ExpectAsync(first, HttpStatusCode.OK);
        var turn = await Http.JsonAsync(first);

        var retry = await app.Client.SendAsync(Chat(body, "order-1234-refund"));
        await Http.ExpectAsync(retry, HttpStatusCode.OK);
        Assert.Equal("true", retry.Headers.GetValues("Idempotent-Replayed").Single());
        var replayed = await Http.JsonAsync(retry);
        Assert.Equal(turn.ToJsonString(), replayed.ToJsonString());

        using var stream = await app.Client.SendAsync(Chat(body, "order-1234-refund", stream: true), HttpCompletionOption.ResponseHeadersRead);
        var events = await Sse.ReadAllAsync(stream);
        Assert.Equal((string?)turn["conversationId"], (string?)events.Last(e => e.Type == "turn.completed").Data!["conversationId"]);

        var conversation = (string)turn["conversationId"]!;
        Assert.Equal(3, (await app.MessagesAsync(conversation)).Count); // user, tool, assistant: one turn
        System.Text.Json.Nodes.JsonArray refunds = [];
        await Wait.UntilAsync(async () => (refunds = (await Http.JsonAsync(await app.Client.GetAsync("/v1/admin/audit?action=refund.requested")))["data"]!.AsArray()).Count > 0,
            because: "the refund's audit event is chained");
        Assert.Single(refunds); // one refund filed
        // A retry is what the header is for, not a fault: nothing was logged as an error (a second insert of the key was).
        Assert.True(errors.Lines.IsEmpty, string.Join('\n', errors.Lines));
    }

    /// <summary>Every error-level log line of the app.</summary>
    sealed class ErrorLog : ILoggerProvider, ILogger
    {
        public System.Collections.Concurrent.ConcurrentQueue<string> Lines { get; } = new();
        public ILogger CreateLogger(string categoryName) => this;
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Error;
        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel)) Lines.Enqueue(formatter(state, exception));
        }
        public void Dispose() { }
    }

    [Fact]
    public async Task The_same_key_with_another_body_is_a_422_and_while_the_first_runs_a_409()
    {
        await using var openAi = new FakeOpenAiServer();
        await using var app = new AgentryApp(openAi);
        var release = new TaskCompletionSource();
        openAi.Enqueue(new FakeReply { Text = "done", Gate = release.Task });

        var running = app.Client.SendAsync(Chat(new { message = "slow one", agentId = "support" }, "k-1"));
        await Wait.UntilAsync(() => openAi.Requests.Count == 1, because: "the first request is running");
        await Http.ProblemAsync(await app.Client.SendAsync(Chat(new { message = "slow one", agentId = "support" }, "k-1")), 409, ProblemTypes.IdempotencyKeyInUse);
        await Http.ProblemAsync(await app.Client.SendAsync(Chat(new { message = "another", agentId = "support" }, "k-1")), 422, ProblemTypes.IdempotencyKeyReused);
        release.SetResult();
        await Http.ExpectAsync(await running, HttpStatusCode.OK);
        await Http.ExpectAsync(await app.Client.SendAsync(Chat(new { message = "slow one", agentId = "support" }, "k-1")), HttpStatusCode.OK);
        Assert.Single(openAi.Requests);
    }

    [Fact]
    public async Task A_turn_that_failed_without_a_result_frees_its_key_for_the_retry()
    {
        await using var openAi = new FakeOpenAiServer();
        await using var app = new AgentryApp(openAi, new() { ["Models:Resilience:MaxRetries"] = "0" });
        openAi.Enqueue(FakeReply.Fail(500), FakeReply.Say("second time lucky"));
        var body = new { message = "hello", agentId = "support" };
        await Http.ProblemAsync(await app.Client.SendAsync(Chat(body, "retry-me")), 502, ProblemTypes.UpstreamError);
        var retried = await app.Client.SendAsync(Chat(body, "retry-me"));
        await Http.ExpectAsync(retried, HttpStatusCode.OK);
        Assert.False(retried.Headers.Contains("Idempotent-Replayed"));
        Assert.Equal("second time lucky", (string?)(await Http.JsonAsync(retried))["messages"]![1]!["content"]);
    }

    [Fact]
    public async Task Keys_belong_to_the_api_key_that_used_them()
    {
        await using var app = new AgentryApp();
        var one = app.CreateApiClient((await app.CreateKeyAsync("one", ["chat"])).Secret);
        var two = app.CreateApiClient((await app.CreateKeyAsync("two", ["chat"])).Secret);
        var body = new { message = "hello", agentId = "support" };
        var first = await Http.JsonAsync(await one.SendAsync(Chat(body, "shared-name")));
        var second = await Http.JsonAsync(await two.SendAsync(Chat(body, "shared-name")));
        Assert.NotEqual((string?)first["conversationId"], (string?)second["conversationId"]);
    }

    static async Task<int> RefundsAsync(AgentryApp app) => (await app.AuditEventsAsync("refund.requested")).Count;

    [Fact]
    public async Task A_turn_that_ran_a_tool_and_then_failed_is_replayed_not_run_again()
    {
        await using var openAi = new FakeOpenAiServer();
        await using var app = new AgentryApp(openAi, new() { ["Models:Resilience:MaxRetries"] = "0" });
        // The refund is filed, then the provider fails before the agent can say so.
        openAi.Enqueue(FakeReply.CallTool("refund", "{\"amount\": 40, \"reason\": \"late\"}"), FakeReply.Fail(500));
        var body = new { message = "please refund my late order", agentId = "billing" };
        await Http.ProblemAsync(await app.Client.SendAsync(Chat(body, "refund-then-fail")), 502, ProblemTypes.UpstreamError);

        var retry = await app.Client.SendAsync(Chat(body, "refund-then-fail"));
        await Http.ExpectAsync(retry, HttpStatusCode.OK);
        Assert.Equal("true", retry.Headers.GetValues("Idempotent-Replayed").Single());
        var replayed = await Http.JsonAsync(retry);
        Assert.Equal("interrupted", (string?)replayed["status"]);
        Assert.StartsWith("Refund request RF-", (string?)replayed["messages"]!.AsArray().Single(m => (string?)m!["role"] == "tool")!["content"]);
        Assert.Equal(2, openAi.Requests.Count); // the retry ran nothing
        Assert.Equal(1, await RefundsAsync(app));
    }

    [Fact]
    public async Task A_streaming_client_that_left_after_the_tool_ran_gets_the_finished_turn_on_retry()
    {
        await using var openAi = new FakeOpenAiServer();
        await using var app = new AgentryApp(openAi);
        var answer = new TaskCompletionSource();
        openAi.Enqueue(FakeReply.CallTool("refund", "{\"amount\": 40, \"reason\": \"late\"}"), new FakeReply { Text = "Your refund is filed.", Gate = answer.Task });
        var body = new { message = "please refund my late order", agentId = "billing" };
        using (var leaving = new CancellationTokenSource())
        {
            using var stream = await app.Client.SendAsync(Chat(body, "refund-then-leave", stream: true), HttpCompletionOption.ResponseHeadersRead, leaving.Token);
            await foreach (var e in Sse.ReadAsync(stream, leaving.Token))
                if (e.Type == "tool.result") break; // the refund ran; the client goes away before the answer
        }
        // The turn runs on without its client (Streaming:CancelOnDisconnect is off): the answer is stored with the refund.
        answer.SetResult();
        var conversation = "";
        await Wait.UntilAsync(async () =>
        {
            var retry = await app.Client.SendAsync(Chat(body, "refund-then-leave"));
            if (retry.StatusCode == HttpStatusCode.Conflict) return false; // the turn is still running
            await Http.ExpectAsync(retry, HttpStatusCode.OK);
            Assert.Equal("true", retry.Headers.GetValues("Idempotent-Replayed").Single());
            var replayed = await Http.JsonAsync(retry);
            Assert.Equal("completed", (string?)replayed["status"]);
            Assert.Equal("Your refund is filed.", (string?)replayed["messages"]!.AsArray().Last()!["content"]);
            conversation = (string)replayed["conversationId"]!;
            return true;
        }, because: "the retry replays the stored turn");
        Assert.Equal(0, openAi.AbortedRequests);
        Assert.Equal(1, await RefundsAsync(app));
        Assert.Contains(await app.MessagesAsync(conversation), m => (string?)m!["role"] == "tool");
    }

    [Fact]
    public async Task A_key_whose_request_died_before_storing_anything_is_taken_over_after_the_in_progress_timeout()
    {
        await using var app = new AgentryApp();
        var body = new { message = "hello", agentId = "support" };
        // What an instance killed mid-turn leaves: the key claimed, no result, and nobody left to free it.
        var admin = (string)(await Http.JsonAsync(await app.Client.GetAsync("/v1/admin/keys")))["data"]![0]!["id"]!;
        var started = DateTimeOffset.UtcNow - Agentry.Conversations.Idempotency.InProgressTimeout - TimeSpan.FromMinutes(1);
        await using (var scope = app.Service<IServiceScopeFactory>().CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<Agentry.Data.AgentryDbContext>();
            db.IdempotentRequests.Add(new Agentry.Conversations.IdempotentRequest
            {
                Owner = admin, Key = "crashed", RequestHash = "whatever it was", CreatedAt = started, ExpiresAt = started.AddHours(24),
            });
            await db.SaveChangesAsync();
        }
        var retried = await app.Client.SendAsync(Chat(body, "crashed"));
        await Http.ExpectAsync(retried, HttpStatusCode.OK);
        Assert.False(retried.Headers.Contains("Idempotent-Replayed"));
    }
}
