using System.Net.Http.Json;
using Agentry.Api;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace Agentry.Tests.Observability;

public sealed class AnalyticsTests
{
    [Fact]
    public async Task Analytics_totals_match_the_provider_reported_usage_and_export_as_csv()
    {
        await using var openAi = new FakeOpenAiServer();
        // A pinned clock (that still moves on by a millisecond per reading): the day the rows land in is known, even
        // when the suite runs across midnight.
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 3, 14, 12, 0, 0, TimeSpan.Zero)) { AutoAdvanceAmount = TimeSpan.FromMilliseconds(1) };
        await using var app = new AgentryApp(openAi, services: s => s.AddSingleton<TimeProvider>(clock));
        var (keyId, secret) = await app.CreateKeyAsync("app", ["chat"]);
        var client = app.CreateApiClient(secret);
        openAi.Enqueue(new FakeReply { Text = "one", PromptTokens = 1000, CompletionTokens = 200 }, new FakeReply { Text = "two", PromptTokens = 3000, CompletionTokens = 800 });
        var first = await Http.JsonAsync(await client.PostAsJsonAsync("/v1/chat", new { message = "a", agentId = "support" }));
        await client.PostAsJsonAsync($"/v1/conversations/{first["conversationId"]}/messages", new { content = "b" });
        await client.GetAsync("/v1/agents"); // a 403 for this chat key: an error for the key and the route

        var byModel = await Http.JsonAsync(await app.Client.GetAsync("/v1/admin/analytics?groupBy=model"));
        var model = byModel["data"]!.AsArray().Single(r => (string?)r!["group"] == "openai/gpt-4o")!;
        Assert.Equal(2, (long)model["requests"]!);
        Assert.Equal(4000, (long)model["inputTokens"]!);
        Assert.Equal(1000, (long)model["outputTokens"]!);
        Assert.Equal(4000 * 2.50 / 1e6 + 1000 * 10.00 / 1e6, (double)model["estimatedCostUsd"]!, 9); // GPT-4o list prices
        Assert.NotNull(model["latencyP50Ms"]);

        // A request is counted when its response has been sent, which can be a moment after the client has it.
        System.Text.Json.Nodes.JsonNode key = null!;
        await Wait.UntilAsync(async () => (long)(key = (await Http.JsonAsync(await app.Client.GetAsync("/v1/admin/analytics?groupBy=key")))["data"]!.AsArray()
            .Single(r => (string?)r!["group"] == keyId)!)["requests"]! == 3, because: "the key's three requests are counted");
        Assert.Equal(3, (long)key["requests"]!);
        Assert.Equal(1, (long)key["errors"]!);
        Assert.Equal(4000, (long)key["inputTokens"]!);

        var byRoute = await Http.JsonAsync(await app.Client.GetAsync("/v1/admin/analytics?groupBy=route"));
        Assert.Contains(byRoute["data"]!.AsArray(), r => (string?)r!["group"] == "POST /v1/chat" && (long)r["requests"]! == 1);
        var byAgent = await Http.JsonAsync(await app.Client.GetAsync("/v1/admin/analytics?groupBy=agent"));
        Assert.Equal(2, (long)byAgent["data"]!.AsArray().Single(r => (string?)r!["group"] == "support")!["requests"]!);

        const string today = "2026-03-14";
        var csv = await app.Client.GetAsync($"/v1/admin/analytics?groupBy=day&from={today}&to={today}&format=csv");
        Assert.Equal("text/csv", csv.Content.Headers.ContentType?.MediaType);
        var lines = (await csv.Content.ReadAsStringAsync()).Trim().Split('\n');
        Assert.Equal("day,requests,errors,latency_p50_ms,latency_p95_ms,latency_p99_ms,input_tokens,output_tokens,estimated_cost_usd", lines[0]);
        Assert.StartsWith(today + ",", lines[1]);
        Assert.Contains(",4000,1000,", lines[1]);

        var none = await Http.JsonAsync(await app.Client.GetAsync("/v1/admin/analytics?groupBy=day&to=2000-01-01"));
        Assert.Empty(none["data"]!.AsArray());
        await Http.ProblemAsync(await app.Client.GetAsync("/v1/admin/analytics?groupBy=planet"), 400, ProblemTypes.ValidationFailed);
    }

    [Fact]
    public async Task Made_up_methods_and_paths_from_anonymous_clients_do_not_add_analytics_rows()
    {
        await using var app = new AgentryApp();
        var anonymous = app.CreateApiClient(null);
        foreach (var method in new[] { "FOO", "BAR", "X-SCAN", "PROPFIND" })
            await anonymous.SendAsync(new HttpRequestMessage(new HttpMethod(method), $"/v1/agents/{method.ToLowerInvariant()}"));
        foreach (var path in new[] { "/wp-login.php", "/.env", "/admin/config.php" }) await anonymous.GetAsync(path);

        System.Text.Json.Nodes.JsonArray routes = [];
        static long Count(System.Text.Json.Nodes.JsonArray rows, Func<string, bool> group) =>
            rows.Where(r => group((string)r!["group"]!)).Sum(r => (long)r!["requests"]!);
        await Wait.UntilAsync(async () =>
        {
            routes = (await Http.JsonAsync(await app.Client.GetAsync("/v1/admin/analytics?groupBy=route")))["data"]!.AsArray();
            return Count(routes, g => g.StartsWith("OTHER ", StringComparison.Ordinal)) >= 4 && Count(routes, g => g == "GET unmatched") >= 3;
        }, because: "the seven requests are counted, under OTHER and unmatched");
        Assert.DoesNotContain(routes, r => ((string)r!["group"]!).Contains("FOO", StringComparison.Ordinal) || ((string)r!["group"]!).Contains("PROPFIND", StringComparison.Ordinal) ||
            ((string)r!["group"]!).Contains(".env", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Turns_are_counted_per_minute_and_questions_asked_at_once_all_get_the_same_totals()
    {
        await using var app = new AgentryApp();
        for (var i = 0; i < 4; i++) await app.Client.PostAsync("/v1/chat", Http.RawJson($$"""{"message":"Hello {{i}}","agentId":"support"}"""));
        // The console's dashboard asks several questions at once, and each flushes the last seconds first: they must
        // neither fail (two inserts of one bucket) nor lose what one of them took out of memory.
        var today = DateTimeOffset.UtcNow.AddMinutes(-1).ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture);
        var answers = await Task.WhenAll(Enumerable.Range(0, 12).Select(i =>
            app.Client.GetAsync($"/v1/admin/analytics?groupBy={(i % 3 == 0 ? "minute" : i % 3 == 1 ? "agent" : "day")}&from={today}")));
        Assert.All(answers, a => Assert.Equal(System.Net.HttpStatusCode.OK, a.StatusCode));
        var minutes = (await Http.JsonAsync(await app.Client.GetAsync($"/v1/admin/analytics?groupBy=minute&from={today}")))["data"]!.AsArray();
        Assert.Equal(4, minutes.Sum(m => (long)m!["requests"]!));
        Assert.All(minutes, m => Assert.Matches(@"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$", (string?)m!["group"]));
        var agents = (await Http.JsonAsync(await app.Client.GetAsync($"/v1/admin/analytics?groupBy=agent&from={today}")))["data"]!.AsArray();
        Assert.Equal(4, (long)agents.Single(a => (string?)a!["group"] == "support")!["requests"]!);
    }
}
