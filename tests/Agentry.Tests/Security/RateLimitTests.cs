using System.Net;
using System.Net.Http.Json;
using Agentry.Api;

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

    [Fact]
    public async Task Token_budget_counts_real_usage_and_refuses_turns_once_spent()
    {
        await using var openAi = new FakeOpenAiServer();
        await using var app = new AgentryApp(openAi);
        // The fake provider reports 11 + 7 = 18 tokens per turn.
        var (_, secret) = await app.CreateKeyAsync("budgeted", ["chat"], new { tokensPerMinute = 30 });
        var client = app.CreateApiClient(secret);
        var conversation = (string)(await Http.JsonAsync(await client.PostAsJsonAsync("/v1/chat", new { message = "one" })))["conversationId"]!;
        await Http.ExpectAsync(await client.PostAsJsonAsync($"/v1/conversations/{conversation}/messages", new { content = "two" }), HttpStatusCode.OK);

        var spent = await client.PostAsJsonAsync($"/v1/conversations/{conversation}/messages", new { content = "three" });
        var problem = await Http.ProblemAsync(spent, 429, ProblemTypes.TokenBudgetExceeded);
        Assert.Contains("36 of its 30", (string?)problem["detail"]);
        Assert.NotNull(spent.Headers.RetryAfter);
        Assert.Equal(2, openAi.Requests.Count); // the refused turn never reached the provider
        Assert.Equal(4, (await app.MessagesAsync(conversation)).Count); // and stored nothing

        // Budgets are per key.
        await Http.ExpectAsync(await app.Client.PostAsJsonAsync("/v1/chat", new { message = "admin" }), HttpStatusCode.OK);
    }
}
