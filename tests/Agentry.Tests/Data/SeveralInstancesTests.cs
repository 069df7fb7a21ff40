using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Agentry.Api;

namespace Agentry.Tests.Data;

/// <summary>
/// Two instances of the service on one PostgreSQL database and one Redis, as behind a load balancer (in this process;
/// the kill test in Operations runs them as real processes). Whatever one instance does, the other must honour.
/// </summary>
[Trait("Database", "own")] // always PostgreSQL + Redis, started by the test: not repeated in the PostgreSQL pass
public sealed class SeveralInstancesTests
{
    sealed class Pair : IAsyncDisposable
    {
        public required RedisServer Redis { get; init; }
        public required AgentryApp A { get; init; }
        public required AgentryApp B { get; init; }

        public static async Task<Pair> StartAsync(FakeOpenAiServer? openAi = null, Dictionary<string, string?>? settings = null)
        {
            var redis = await RedisServer.StartAsync();
            var database = PostgresServer.Shared.CreateEmptyDatabase();
            AgentryApp Start() => new(openAi, new(settings ?? [])
            {
                ["Data:Provider"] = "postgres", ["Data:ConnectionString"] = database, ["Redis:Configuration"] = redis.Configuration,
            });
            var a = Start();
            await a.Client.GetAsync("/health/ready"); // the first migrates and creates the admin key; then the second starts
            var b = Start();
            await b.Client.GetAsync("/health/ready");
            return new Pair { Redis = redis, A = a, B = b };
        }

        public async ValueTask DisposeAsync()
        {
            await A.DisposeAsync();
            await B.DisposeAsync();
            await Redis.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_conversation_continues_on_the_other_instance_and_request_and_token_limits_are_exact_across_both()
    {
        await using var openAi = new FakeOpenAiServer();
        await using var pair = await Pair.StartAsync(openAi);
        var (_, secret) = await pair.A.CreateKeyAsync("shared", ["chat", "read"], new { requestsPerMinute = 10 });
        var viaA = pair.A.CreateApiClient(secret);
        var viaB = pair.B.CreateApiClient(secret);

        await Wait.ForAFreshMinuteAsync();
        var first = await Http.JsonAsync(await viaA.PostAsJsonAsync("/v1/chat", new { message = "on A", agentId = "support" }));
        var conversation = (string)first["conversationId"]!;
        await Http.ExpectAsync(await viaB.PostAsJsonAsync($"/v1/conversations/{conversation}/messages", new { content = "on B" }), HttpStatusCode.OK);
        Assert.Contains("on A", openAi.Requests[^1].Messages.Select(FakeRequest.Text)); // B's turn saw A's history

        // Two requests used; 20 more alternate between the instances: exactly 8 of them fit in the key's 10 a minute.
        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 20; i++) statuses.Add((await (i % 2 == 0 ? viaA : viaB).GetAsync("/v1/agents")).StatusCode);
        Assert.Equal(8, statuses.Count(s => s == HttpStatusCode.OK));
        Assert.Equal(12, statuses.Count(s => s == HttpStatusCode.TooManyRequests));
    }

    [Fact]
    public async Task Concurrent_turns_on_both_instances_share_one_token_budget_and_one_conversation_gate()
    {
        await using var openAi = new FakeOpenAiServer();
        // The held calls wait for the test, not for the provider's attempt timeout: on a loaded machine a retry would count as a second call.
        await using var pair = await Pair.StartAsync(openAi, new() { ["Models:Resilience:AttemptTimeout"] = "00:02:00", ["Models:Resilience:TimeToFirstToken"] = "00:02:00", ["Models:Resilience:TotalTimeout"] = "00:02:00" });
        await Http.ExpectAsync(await pair.A.Client.PutAsJsonAsync("/v1/agents/terse", new { id = "terse", name = "Terse", maxOutputTokens = 150 }), HttpStatusCode.Created);
        var release = new TaskCompletionSource();
        for (var i = 0; i < 21; i++) openAi.Enqueue(new FakeReply { Text = "held", Gate = release.Task });
        var (_, secret) = await pair.A.CreateKeyAsync("budgeted", ["chat"], new { tokensPerMinute = 1_000 });
        var clients = new[] { pair.A.CreateApiClient(secret), pair.B.CreateApiClient(secret) };

        await Wait.ForAFreshMinuteAsync();
        var sent = Enumerable.Range(0, 20).Select(i => clients[i % 2].PostAsJsonAsync("/v1/chat", new { message = $"turn {i}", agentId = "terse" })).ToList();
        await Wait.UntilAsync(() => openAi.Requests.Count + sent.Count(t => t.IsCompleted) == 20, TimeSpan.FromSeconds(60), because: "every turn reserved or was refused");
        Assert.InRange(openAi.Requests.Count, 1, 1_000 / 150); // one budget for both instances, not one each

        // While a turn of a conversation runs on A, the same conversation is busy on B too.
        var conversation = (string)(await Http.JsonAsync(await pair.A.Client.PostAsJsonAsync("/v1/conversations", new { agentId = "support" })))["id"]!;
        var running = pair.A.Client.PostAsJsonAsync($"/v1/conversations/{conversation}/messages", new { content = "slow" });
        await Wait.UntilAsync(() => openAi.Requests.Any(r => r.LastUserText == "slow"), because: "A's turn reached the provider");
        await Http.ProblemAsync(await pair.B.Client.PostAsJsonAsync($"/v1/conversations/{conversation}/messages", new { content = "meanwhile" }), 409, ProblemTypes.ConversationBusy);

        release.SetResult();
        await Task.WhenAll(sent);
        await Http.ExpectAsync(await running, HttpStatusCode.OK);
        await Http.ExpectAsync(await pair.B.Client.PostAsJsonAsync($"/v1/conversations/{conversation}/messages", new { content = "now" }), HttpStatusCode.OK);
    }

    [Fact]
    public async Task Instances_starting_together_on_a_new_database_migrate_it_once_and_all_start()
    {
        // Found by the kill test in CI: two processes migrating one new database, one failing "relation already exists".
        var database = PostgresServer.Shared.CreateEmptyDatabase();
        var apps = Enumerable.Range(0, 4).Select(_ => new AgentryApp(settings: new() { ["Data:Provider"] = "postgres", ["Data:ConnectionString"] = database })).ToList();
        try
        {
            var ready = await Task.WhenAll(apps.Select(app => Task.Run(async () => (await app.Client.GetAsync("/health/ready")).StatusCode)));
            Assert.All(ready, status => Assert.Equal(HttpStatusCode.OK, status));
            await using var connection = new Npgsql.NpgsqlConnection(database);
            await connection.OpenAsync();
            await using var count = new Npgsql.NpgsqlCommand("SELECT COUNT(*) FROM \"__EFMigrationsHistory\"", connection);
            using var scope = Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions.CreateScope(apps[0].Services);
            var migrations = Microsoft.EntityFrameworkCore.RelationalDatabaseFacadeExtensions.GetMigrations(
                Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions.GetRequiredService<Agentry.Data.AgentryDbContext>(scope.ServiceProvider).Database).LongCount();
            Assert.Equal(migrations, (long)(await count.ExecuteScalarAsync())!); // each applied once
        }
        finally
        {
            foreach (var app in apps) await app.DisposeAsync();
        }
    }

    [Fact]
    public async Task When_redis_goes_away_both_instances_keep_serving_on_their_own_state_and_health_says_degraded()
    {
        await using var pair = await Pair.StartAsync();
        Assert.Equal("Healthy", await RedisCheckAsync(pair.A));

        await pair.Redis.DisposeAsync();
        foreach (var app in new[] { pair.A, pair.B })
        {
            Assert.Equal("Degraded", await RedisCheckAsync(app));
            await Http.ExpectAsync(await app.Client.GetAsync("/health/ready"), HttpStatusCode.OK); // still in the load balancer
            var turn = await app.Client.PostAsJsonAsync("/v1/chat", new { message = "Redis is down", agentId = "support" });
            await Http.ExpectAsync(turn, HttpStatusCode.OK); // limits and the gate fall back to the instance's own
        }
    }

    [Fact]
    public async Task With_redis_away_token_budgets_refuse_by_default_in_production_and_other_requests_still_work()
    {
        await using var pair = await Pair.StartAsync(settings: new() { ["Redis:OnFailure"] = "refuse" });
        await pair.Redis.DisposeAsync();
        var problem = await Http.ProblemAsync(await pair.A.Client.PostAsJsonAsync("/v1/chat", new { message = "spend without a budget?", agentId = "support" }), 503,
            Agentry.Api.ProblemTypes.LimitsUnavailable);
        Assert.Contains("Redis", (string?)problem["detail"]);
        await Http.ExpectAsync(await pair.A.Client.GetAsync("/v1/agents"), HttpStatusCode.OK); // request limits fall back to the instance's own
        var health = await Http.JsonAsync(await pair.A.Client.GetAsync("/health"));
        Assert.Contains("model calls are refused", (string?)health["checks"]!.AsArray().Single(c => (string)c!["name"]! == "redis")!["description"]);

        // Production's default is refuse; elsewhere it is local.
        var redis = new Agentry.Data.RedisOptions();
        Assert.Equal("refuse", redis.FailureMode(new Microsoft.Extensions.Hosting.Internal.HostingEnvironment { EnvironmentName = "Production" }));
        Assert.Equal("local", redis.FailureMode(new Microsoft.Extensions.Hosting.Internal.HostingEnvironment { EnvironmentName = "Development" }));
    }

    [Fact]
    public async Task A_reservation_made_while_redis_was_away_is_settled_where_it_was_made()
    {
        // Redis is configured but not there; budgets count locally (Redis:OnFailure = local).
        var dead = PostgresServer.FreePort();
        await using var app = new AgentryApp(settings: new() { ["Redis:Configuration"] = $"127.0.0.1:{dead},connectTimeout=200", ["Redis:OnFailure"] = "local" });
        var store = app.Service<Agentry.Security.IRateLimitStore>();
        var first = await store.TryReserveTokensAsync("key:test", 100, perMinute: 150, perDay: null, CancellationToken.None);
        Assert.True(first.Allowed);
        Assert.False(first.Reservation!.Shared);
        await store.SettleTokensAsync(first.Reservation, usedTokens: 0, CancellationToken.None); // the call used nothing: all 100 go back
        var second = await store.TryReserveTokensAsync("key:test", 100, perMinute: 150, perDay: null, CancellationToken.None);
        Assert.True(second.Allowed, "the first reservation was given back to the store that held it");
    }

    static async Task<string> RedisCheckAsync(AgentryApp app)
    {
        var health = await Http.JsonAsync(await app.Client.GetAsync("/health"));
        return (string)health["checks"]!.AsArray().Single(c => (string)c!["name"]! == "redis")!["status"]!;
    }

    [Fact]
    public async Task A_key_revoked_on_one_instance_is_refused_by_the_other_within_a_second()
    {
        await using var pair = await Pair.StartAsync();
        var (id, secret) = await pair.A.CreateKeyAsync("short-lived", ["read"]);
        var viaB = pair.B.CreateApiClient(secret);
        Assert.Equal(HttpStatusCode.OK, (await viaB.GetAsync("/v1/agents")).StatusCode); // now in B's key cache

        await Http.ExpectAsync(await pair.A.Client.DeleteAsync($"/v1/admin/keys/{id}"), HttpStatusCode.OK);
        await Wait.UntilAsync(async () => (await viaB.GetAsync("/v1/agents")).StatusCode == HttpStatusCode.Unauthorized, TimeSpan.FromSeconds(1),
            "B refuses the key revoked on A (its cache would keep it for 5 s)");
    }

    [Fact]
    public async Task Both_instances_append_to_one_audit_chain_that_verifies_and_an_alert_raised_on_both_is_posted_once()
    {
        await using var webhook = new FakeOpenAiServer();
        await using var pair = await Pair.StartAsync(settings: new()
        {
            ["Monitoring:SampleInterval"] = "00:00:00.100",
            ["Monitoring:Alerts:0:Name"] = "always", ["Monitoring:Alerts:0:Metric"] = "workingSetMb", ["Monitoring:Alerts:0:Above"] = "1",
            ["Monitoring:Alerts:0:RaiseAfter"] = "1", ["Monitoring:WebhookUrl"] = webhook.RootUrl + "/webhook",
        });

        await Task.WhenAll(Enumerable.Range(0, 40).Select(i => (i % 2 == 0 ? pair.A : pair.B).CreateKeyAsync($"k{i}", ["read"])));
        JsonArray created = [];
        await Wait.UntilAsync(async () => (created = (await Http.JsonAsync(await pair.B.Client.GetAsync("/v1/admin/audit?action=key.created&limit=200")))["data"]!.AsArray()).Count == 40,
            because: "both writers chained their events");
        foreach (var instance in new[] { pair.A, pair.B })
            Assert.True((bool)(await Http.JsonAsync(await instance.Client.GetAsync("/v1/admin/audit/verify")))["valid"]!);

        foreach (var instance in new[] { pair.A, pair.B })
            await Wait.UntilAsync(async () => (await Http.JsonAsync(await instance.Client.GetAsync("/system/health")))["alerts"]!["active"]!.AsArray()
                .Any(a => (string?)a!["name"] == "always"), because: "each instance raises the alert");
        await Wait.UntilAsync(() => webhook.Webhooks.Count >= 1, because: "the alert is posted");
        Assert.Single(webhook.Webhooks, w => (string?)JsonNode.Parse(w.Body)!["alert"]!["name"] == "always");
        Assert.Single((await Http.JsonAsync(await pair.A.Client.GetAsync("/v1/admin/audit?action=alert.raised")))["data"]!.AsArray());
    }
}
