using System.Net;
using System.Net.Http.Json;
using Agentry.Api;
using Agentry.Security;

namespace Agentry.Tests.Security;

public sealed class RateLimitTests
{
    [Fact]
    public async Task Exactly_the_limit_succeeds_when_many_requests_arrive_at_once()
    {
        await using var app = new AgentryApp();
        const int limit = 10, parallel = 40;
        var (_, secret) = await app.CreateKeyAsync("limited", ["read"], new { requestsPerMinute = limit });
        var client = app.CreateApiClient(secret);

        var responses = await Task.WhenAll(Enumerable.Range(0, parallel).Select(_ => client.GetAsync("/v1/agents")));
        Assert.Equal(limit, responses.Count(r => r.StatusCode == HttpStatusCode.OK));
        Assert.Equal(parallel - limit, responses.Count(r => r.StatusCode == HttpStatusCode.TooManyRequests));

        var rejected = responses.First(r => r.StatusCode == HttpStatusCode.TooManyRequests);
        await Http.ProblemAsync(rejected, 429, ProblemTypes.RateLimited);
        Assert.InRange(rejected.Headers.RetryAfter!.Delta!.Value.TotalSeconds, 1, 60);
        Assert.Equal("\"requests\";q=10;w=60", rejected.Headers.GetValues("RateLimit-Policy").Single());
        Assert.Matches("^\"requests\";r=0;t=\\d+$", rejected.Headers.GetValues("RateLimit").Single());

        // Limits are per key: the admin key is unaffected.
        Assert.Equal(HttpStatusCode.OK, (await app.Client.GetAsync("/v1/agents")).StatusCode);
    }

    [Fact]
    public async Task Successful_responses_report_the_remaining_budget()
    {
        await using var app = new AgentryApp();
        await Wait.ForAFreshMinuteAsync(10);
        var (_, secret) = await app.CreateKeyAsync("counted", ["read"], new { requestsPerMinute = 5 });
        var client = app.CreateApiClient(secret);
        var first = await client.GetAsync("/v1/agents");
        var second = await client.GetAsync("/v1/agents");
        Assert.StartsWith("\"requests\";r=4;t=", first.Headers.GetValues("RateLimit").Single());
        Assert.StartsWith("\"requests\";r=3;t=", second.Headers.GetValues("RateLimit").Single());
    }

    [Fact]
    public async Task Requests_without_a_key_are_limited_per_client_ip_using_the_global_setting()
    {
        await using var app = new AgentryApp(settings: new() { ["RateLimit:PermitsPerMinute"] = "3" });
        var anonymous = app.CreateApiClient(null);
        await Wait.ForAFreshMinuteAsync(10);
        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 5; i++) statuses.Add((await anonymous.GetAsync("/v1/agents")).StatusCode);
        Assert.Equal([HttpStatusCode.Unauthorized, HttpStatusCode.Unauthorized, HttpStatusCode.Unauthorized, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests], statuses);
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/health/ready")).StatusCode); // probes are exempt
    }

    [Fact]
    public async Task Concurrent_requests_beyond_the_key_limit_are_refused()
    {
        await using var openAi = new FakeOpenAiServer();
        await using var app = new AgentryApp(openAi);
        var (_, secret) = await app.CreateKeyAsync("one-at-a-time", ["chat"], new { concurrentRequests = 1 });
        var client = app.CreateApiClient(secret);
        var release = new TaskCompletionSource();
        openAi.Enqueue(new FakeReply { Text = "slow", Gate = release.Task });

        var first = client.PostAsJsonAsync("/v1/chat", new { message = "first" });
        await Wait.UntilAsync(() => openAi.Requests.Count == 1, because: "the first request is in flight");
        var second = await client.PostAsJsonAsync("/v1/chat", new { message = "second" });
        await Http.ProblemAsync(second, 429, ProblemTypes.ConcurrencyLimited);
        release.SetResult();
        await Http.ExpectAsync(await first, HttpStatusCode.OK);
        await Http.ExpectAsync(await client.PostAsJsonAsync("/v1/chat", new { message = "third" }), HttpStatusCode.OK);
    }

    /// <summary>
    /// The in-process limit on requests in flight, driven directly from many threads: never more than the limit at
    /// once, every slot comes back (a slot disposed twice comes back once), and a partition with requests in flight
    /// stays counted as time passes while another partition has its own slots.
    /// </summary>
    [Fact]
    public async Task Requests_in_flight_never_exceed_the_limit_and_every_slot_comes_back()
    {
        var clock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.UtcNow);
        using var store = new InMemoryRateLimitStore(clock);
        const int limit = 5;
        var inFlight = 0;
        var peak = 0;
        var granted = 0;
        // Every worker retries until it is let in: a slot that did not come back would leave workers waiting forever,
        // which the timeout turns into a failure. (Counting how many got in on the first try depends on scheduling: a
        // holder descheduled for a few milliseconds on a loaded machine lets every other try be refused.)
        await Parallel.ForAsync(0, 2_000, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (i, ct) =>
        {
            var decision = await store.AcquireConcurrencyAsync("key:k", limit, ct);
            while (!decision.Allowed)
            {
                await Task.Yield();
                decision = await store.AcquireConcurrencyAsync("key:k", limit, ct);
            }
            Interlocked.Increment(ref granted);
            var now = Interlocked.Increment(ref inFlight);
            InterlockedMax(ref peak, now);
            if (i % 7 == 0) await Task.Yield();
            Interlocked.Decrement(ref inFlight);
            decision.Lease!.Dispose();
            decision.Lease.Dispose(); // twice: returned once
        }).WaitAsync(TimeSpan.FromMinutes(1));
        Assert.InRange(peak, 1, limit);
        Assert.Equal(2_000, granted);

        var held = new List<IDisposable>();
        for (var i = 0; i < limit; i++) held.Add((await store.AcquireConcurrencyAsync("key:k", limit, default)).Lease!);
        Assert.False((await store.AcquireConcurrencyAsync("key:k", limit, default)).Allowed);
        clock.Advance(TimeSpan.FromMinutes(2)); // held slots do not lapse with time
        Assert.False((await store.AcquireConcurrencyAsync("key:k", limit, default)).Allowed);
        Assert.True((await store.AcquireConcurrencyAsync("key:other", limit, default)).Allowed);
        held[0].Dispose();
        Assert.True((await store.AcquireConcurrencyAsync("key:k", limit, default)).Allowed);

        static void InterlockedMax(ref int target, int value)
        {
            for (var current = Volatile.Read(ref target); value > current; current = Volatile.Read(ref target))
                if (Interlocked.CompareExchange(ref target, value, current) == current) return;
        }
    }

    [Fact]
    public async Task Token_budget_is_charged_with_real_usage_and_refuses_a_call_that_no_longer_fits()
    {
        await using var openAi = new FakeOpenAiServer();
        await using var app = new AgentryApp(openAi);
        // Each call reserves its prompt (well under 450 tokens here) plus the agent's 150 answer tokens, and is then
        // charged what the provider reports: 500.
        await Http.ExpectAsync(await app.Client.PutAsJsonAsync("/v1/agents/terse", new { id = "terse", name = "Terse", maxOutputTokens = 150 }), HttpStatusCode.Created);
        openAi.Enqueue(new FakeReply { Text = "one", PromptTokens = 400, CompletionTokens = 100 }, new FakeReply { Text = "two", PromptTokens = 400, CompletionTokens = 100 });
        await Wait.ForAFreshMinuteAsync(10);
        var (_, secret) = await app.CreateKeyAsync("budgeted", ["chat"], new { tokensPerMinute = 1_100 });
        var client = app.CreateApiClient(secret);
        var conversation = (string)(await Http.JsonAsync(await client.PostAsJsonAsync("/v1/chat", new { message = "one", agentId = "terse" })))["conversationId"]!;
        await Http.ExpectAsync(await client.PostAsJsonAsync($"/v1/conversations/{conversation}/messages", new { content = "two" }), HttpStatusCode.OK);

        var spent = await client.PostAsJsonAsync($"/v1/conversations/{conversation}/messages", new { content = "three" });
        var problem = await Http.ProblemAsync(spent, 429, ProblemTypes.TokenBudgetExceeded);
        Assert.Contains("used 1000 of its 1100", (string?)problem["detail"]);
        Assert.NotNull(spent.Headers.RetryAfter);
        Assert.Equal(2, openAi.Requests.Count); // the refused turn never reached the provider
        Assert.Equal(4, (await app.MessagesAsync(conversation)).Count); // and stored nothing

        // Budgets are per key.
        await Http.ExpectAsync(await app.Client.PostAsJsonAsync("/v1/chat", new { message = "admin" }), HttpStatusCode.OK);
    }

    [Fact]
    public async Task Twenty_concurrent_turns_cannot_spend_more_than_the_budget_and_settled_reservations_free_it_again()
    {
        await using var openAi = new FakeOpenAiServer();
        await using var app = new AgentryApp(openAi);
        await Http.ExpectAsync(await app.Client.PutAsJsonAsync("/v1/agents/terse", new { id = "terse", name = "Terse", maxOutputTokens = 150 }), HttpStatusCode.Created);
        const int budget = 1_000, turns = 20;
        var release = new TaskCompletionSource();
        for (var i = 0; i < turns; i++) openAi.Enqueue(new FakeReply { Text = "held", Gate = release.Task });
        var (_, secret) = await app.CreateKeyAsync("shared", ["chat"], new { tokensPerMinute = budget });
        var client = app.CreateApiClient(secret);

        var sent = Enumerable.Range(0, turns).Select(i => client.PostAsJsonAsync("/v1/chat", new { message = $"turn {i}", agentId = "terse" })).ToList();
        // Every turn is either at the provider (holding its reservation) or already refused.
        await Wait.UntilAsync(() => openAi.Requests.Count + sent.Count(t => t.IsCompleted) == turns, because: "all turns reserved or were refused");
        var admitted = openAi.Requests.Count;
        // Each admitted call reserved more than its 150 answer tokens, so at most 1000 / 150 of them fit at once;
        // checking the budget without reserving it let all 20 through.
        Assert.InRange(admitted, 1, budget / 150);
        release.SetResult();
        var responses = await Task.WhenAll(sent);
        Assert.Equal(admitted, responses.Count(r => r.StatusCode == HttpStatusCode.OK));
        foreach (var refused in responses.Where(r => r.StatusCode != HttpStatusCode.OK))
            await Http.ProblemAsync(refused, 429, ProblemTypes.TokenBudgetExceeded);

        // The admitted calls used 18 tokens each; settling gave the rest of their reservations back.
        await Http.ExpectAsync(await client.PostAsJsonAsync("/v1/chat", new { message = "after", agentId = "terse" }), HttpStatusCode.OK);
    }

    [Fact]
    public async Task Spend_is_capped_by_default_and_a_call_larger_than_the_whole_budget_says_what_to_change()
    {
        await using var app = new AgentryApp(); // no token limits configured anywhere: the built-in defaults apply
        await Http.ExpectAsync(await app.Client.PutAsJsonAsync("/v1/agents/verbose", new { id = "verbose", name = "Verbose", maxOutputTokens = 128_000 }), HttpStatusCode.Created);
        var (_, secret) = await app.CreateKeyAsync("plain", ["chat"]);
        var client = app.CreateApiClient(secret);

        var refused = await client.PostAsJsonAsync("/v1/chat", new { message = "hello", agentId = "verbose" });
        var problem = await Http.ProblemAsync(refused, 422, ProblemTypes.TokenBudgetTooSmall); // not a 429: retrying would not help
        Assert.Contains("whole budget of 100000 per minute", (string?)problem["detail"]);
        Assert.Null(refused.Headers.RetryAfter);
        await Http.ExpectAsync(await client.PostAsJsonAsync("/v1/chat", new { message = "hello" }), HttpStatusCode.OK);
    }

    [Fact]
    public async Task A_budgeted_call_asks_the_provider_for_no_more_than_it_reserved_and_failed_calls_cost_nothing()
    {
        await using var openAi = new FakeOpenAiServer();
        await using var app = new AgentryApp(openAi, new()
        {
            ["RateLimit:MaxOutputTokens"] = "300", ["Models:Resilience:MaxRetries"] = "0",
            ["RateLimit:TokensPerMinute"] = "", ["RateLimit:TokensPerDay"] = "", // only keys with their own limits are budgeted here
        });
        await Http.ExpectAsync(await app.Client.PutAsJsonAsync("/v1/agents/plain", new { id = "plain", name = "Plain" }), HttpStatusCode.Created);
        await Wait.ForAFreshMinuteAsync(10);
        var (_, secret) = await app.CreateKeyAsync("small", ["chat"], new { tokensPerMinute = 600 });
        var client = app.CreateApiClient(secret);

        // A provider outage: five failed calls, each reserving its prompt (about 100 tokens) and 300 answer tokens, then
        // settled to nothing. Charging their prompts would leave no room for the sixth call's 400.
        for (var i = 0; i < 5; i++) openAi.Enqueue(FakeReply.Fail(500));
        for (var i = 0; i < 5; i++)
            await Http.ProblemAsync(await client.PostAsJsonAsync("/v1/chat", new { message = "hello", agentId = "plain" }), 502, ProblemTypes.UpstreamError);
        await Http.ExpectAsync(await client.PostAsJsonAsync("/v1/chat", new { message = "hello", agentId = "plain" }), HttpStatusCode.OK);

        // The agent sets no maxOutputTokens, so the call carried the reserved allowance as its limit.
        Assert.Equal(300, (int?)openAi.Requests[^1].Body["max_completion_tokens"] ?? (int?)openAi.Requests[^1].Body["max_tokens"]);
        // The admin key has no budget in this app: its calls carry no such limit.
        await Http.ExpectAsync(await app.Client.PostAsJsonAsync("/v1/chat", new { message = "hello", agentId = "plain" }), HttpStatusCode.OK);
        Assert.Null(openAi.Requests[^1].Body["max_completion_tokens"] ?? openAi.Requests[^1].Body["max_tokens"]);
    }

    [Fact]
    public async Task Token_limits_can_be_switched_off_by_setting_them_empty()
    {
        await using var app = new AgentryApp(settings: new() { ["RateLimit:TokensPerMinute"] = "", ["RateLimit:TokensPerDay"] = "" });
        await Http.ExpectAsync(await app.Client.PutAsJsonAsync("/v1/agents/verbose", new { id = "verbose", name = "Verbose", maxOutputTokens = 128_000 }), HttpStatusCode.Created);
        await Http.ExpectAsync(await app.Client.PostAsJsonAsync("/v1/chat", new { message = "hello", agentId = "verbose" }), HttpStatusCode.OK);
    }
}
