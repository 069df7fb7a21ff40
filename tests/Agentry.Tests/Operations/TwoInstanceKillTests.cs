using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Agentry.Tests.Data;
using Npgsql;
using Xunit.Abstractions;

namespace Agentry.Tests.Operations;

/// <summary>
/// Two real service processes on one PostgreSQL database and one Redis (all started by the test from the installed
/// packages), traffic spread across both, then one of them SIGKILLed mid-traffic. What an operator running several
/// instances must be able to count on.
/// </summary>
[Trait("Database", "own")] // always PostgreSQL + Redis, started by the test: not repeated in the PostgreSQL pass
public sealed class TwoInstanceKillTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Two_instances_share_everything_and_a_SIGKILL_of_one_loses_no_acknowledged_turn()
    {
        await using var redis = await RedisServer.StartAsync();
        await using var openAi = new FakeOpenAiServer();
        var database = PostgresServer.Shared.CreateEmptyDatabase();
        var folders = new[] { Directory.CreateTempSubdirectory("agentry-a-").FullName, Directory.CreateTempSubdirectory("agentry-b-").FullName };
        var settings = new Dictionary<string, string>
        {
            ["Data:Provider"] = "postgres", ["Data:ConnectionString"] = database, ["Redis:Configuration"] = redis.Configuration,
            ["Redis:GateLease"] = "00:00:03", ["Data:MigrateOnStartup"] = "true",
            ["Models:Endpoints:openai:ApiKey"] = "sk-test", ["Models:Endpoints:openai:BaseUrl"] = openAi.BaseUrl,
            ["RateLimit:PermitsPerMinute"] = "100000", ["RateLimit:ConcurrentRequests"] = "1000", ["Responses:LeaseDuration"] = "00:00:03",
        };
        // Started together, as an orchestrator does: they migrate and create the admin key once between them.
        await using var a = new AgentryProcess(folders[0], settings);
        await using var b = new AgentryProcess(folders[1], settings);
        var (clientA, clientB) = (await a.StartedAsync(), await b.StartedAsync());
        // The new database was migrated without an error in either log (Npgsql's provider logs its read of a history
        // table that does not exist yet as "Failed executing DbCommand" unless the service avoids that read).
        var errors = a.Lines.Concat(b.Lines).Where(line => line.Contains("\"LogLevel\":\"Error\"", StringComparison.Ordinal)).ToList();
        Assert.True(errors.Count == 0, string.Join('\n', errors));
        try
        {
            // One rate limit for both: 10 a minute for this key, however the requests are spread.
            var limited = await CreateKeyAsync(clientA, new { name = "limited", scopes = new[] { "read" }, requestsPerMinute = 10 });
            await Wait.ForAFreshMinuteAsync(15);
            var limitedStatuses = new List<HttpStatusCode>();
            for (var i = 0; i < 16; i++) limitedStatuses.Add((await Send(i % 2 == 0 ? clientA : clientB, limited.Secret, HttpMethod.Get, "/v1/agents")).StatusCode);
            Assert.Equal(10, limitedStatuses.Count(s => s == HttpStatusCode.OK));

            // A key revoked on A is refused by B within a second.
            var revoked = await CreateKeyAsync(clientA, new { name = "revoked", scopes = new[] { "read" } });
            Assert.Equal(HttpStatusCode.OK, (await Send(clientB, revoked.Secret, HttpMethod.Get, "/v1/agents")).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await clientA.DeleteAsync($"/v1/admin/keys/{revoked.Id}")).StatusCode);
            await Wait.UntilAsync(async () => (await Send(clientB, revoked.Secret, HttpMethod.Get, "/v1/agents")).StatusCode == HttpStatusCode.Unauthorized,
                TimeSpan.FromSeconds(1), "B refuses the key revoked on A");

            // A turn held at the provider on A: its conversation's gate is A's when A dies.
            var held = (string)(await Http.JsonAsync(await clientA.PostAsJsonAsync("/v1/conversations", new { agentId = "support" })))["id"]!;
            openAi.Enqueue(new FakeReply { Text = "never", Gate = new TaskCompletionSource().Task });
            var heldTurn = clientA.PostAsJsonAsync($"/v1/conversations/{held}/messages", new { content = "held on A" });
            await Wait.UntilAsync(() => openAi.Requests.Any(r => r.LastUserText == "held on A"), because: "A's turn reached the provider");

            // A background response run by A is polled, and its stream resumed, through B (Redis Streams).
            var finished = (string)(await Http.JsonAsync(await clientA.PostAsJsonAsync("/v1/responses", new { model = "support", input = "background on A", background = true })))["id"]!;
            await Wait.UntilAsync(async () => (string?)(await Http.JsonAsync(await clientB.GetAsync($"/v1/responses/{finished}")))["status"] == "completed",
                TimeSpan.FromSeconds(10), "B sees the response A completed");
            var resumed = await (await clientB.GetAsync($"/v1/responses/{finished}?stream=true&starting_after=2")).Content.ReadAsStringAsync();
            var sequence = resumed.Split('\n').Where(l => l.StartsWith("data: ", StringComparison.Ordinal)).Select(l => JsonNode.Parse(l[6..])!).ToList();
            Assert.Equal(3, (int)sequence[0]["sequence_number"]!);
            Assert.Equal("response.completed", (string?)sequence[^1]["type"]);

            // One held at the provider when A dies: reported failed within the lease (3 s here), never left in progress.
            openAi.Enqueue(new FakeReply { Text = "never", Gate = new TaskCompletionSource().Task });
            var orphan = (string)(await Http.JsonAsync(await clientA.PostAsJsonAsync("/v1/responses", new { model = "support", input = "held background on A", background = true })))["id"]!;
            await Wait.UntilAsync(() => openAi.Requests.Any(r => r.LastUserText == "held background on A"), because: "A's background response reached the provider");

            // Traffic: 8 users, each a conversation started on one instance and continued alternately on both.
            var acknowledged = new ConcurrentBag<string>();
            var statuses = new ConcurrentDictionary<string, int>();
            var (sent, failedWhileKilled) = (0, 0);
            using var stop = new CancellationTokenSource();
            var users = Enumerable.Range(0, 8).Select(user => Task.Run(async () =>
            {
                string? conversation = null;
                for (var turn = 0; !stop.IsCancellationRequested; turn++)
                {
                    var client = (user + turn) % 2 == 0 ? clientA : clientB;
                    if (client == clientA && a.HasExited) client = clientB;
                    Interlocked.Increment(ref sent);
                    try
                    {
                        var response = conversation is null
                            ? await client.PostAsJsonAsync("/v1/chat", new { message = $"user {user} turn {turn}", agentId = "support" })
                            : await client.PostAsJsonAsync($"/v1/conversations/{conversation}/messages", new { content = $"user {user} turn {turn}" });
                        statuses.AddOrUpdate($"{(a.HasExited ? "after" : "before")} {(int)response.StatusCode}", 1, (_, n) => n + 1);
                        if (response.StatusCode == HttpStatusCode.Conflict)
                            await Task.Delay(response.Headers.RetryAfter?.Delta ?? TimeSpan.FromSeconds(1)); // as a client should: the conversation is busy
                        if (!response.IsSuccessStatusCode) continue;
                        var body = await Http.JsonAsync(response);
                        conversation ??= (string)body["conversationId"]!;
                        foreach (var message in body["messages"]!.AsArray()) acknowledged.Add((string)message!["id"]!);
                    }
                    catch (HttpRequestException)
                    {
                        Interlocked.Increment(ref failedWhileKilled); // the killed instance's connections
                    }
                }
            })).ToList();

            await Wait.UntilAsync(() => acknowledged.Count >= 100, TimeSpan.FromSeconds(60), "traffic is flowing on both instances");
            a.KillHard();
            var killedAt = acknowledged.Count;
            await Wait.UntilAsync(() => acknowledged.Count >= killedAt + 100, TimeSpan.FromSeconds(60), "B keeps serving after A died");
            stop.Cancel();
            await Task.WhenAll(users);
            await Assert.ThrowsAnyAsync<HttpRequestException>(() => heldTurn);

            // Every message a 2xx reply acknowledged is in the database.
            var stored = new HashSet<string>();
            await using (var connection = new NpgsqlConnection(database))
            {
                await connection.OpenAsync();
                await using var command = new NpgsqlCommand("SELECT id FROM messages", connection);
                await using var reader = await command.ExecuteReaderAsync();
                while (await reader.ReadAsync()) stored.Add(reader.GetString(0));
            }
            var lost = acknowledged.Where(id => !stored.Contains(id)).ToList();
            output.WriteLine($"turn requests {sent}: {string.Join(", ", statuses.OrderBy(s => s.Key).Select(s => $"{s.Key}×{s.Value}"))}, " +
                             $"connection failures {failedWhileKilled} (the killed instance); acknowledged messages {acknowledged.Count} ({killedAt} before the kill); lost {lost.Count}");
            Assert.Empty(lost);

            // The dead instance's conversation is busy until its lease runs out (3 s here), then B takes it.
            var busy = await clientB.PostAsJsonAsync($"/v1/conversations/{held}/messages", new { content = "on B" });
            if (busy.StatusCode == HttpStatusCode.Conflict)
                await Wait.UntilAsync(async () => (await clientB.PostAsJsonAsync($"/v1/conversations/{held}/messages", new { content = "on B" })).StatusCode == HttpStatusCode.OK,
                    TimeSpan.FromSeconds(10), "the killed instance's gate expires");
            else Assert.Equal(HttpStatusCode.OK, busy.StatusCode);

            JsonNode? orphaned = null;
            await Wait.UntilAsync(async () => (string?)(orphaned = await Http.JsonAsync(await clientB.GetAsync($"/v1/responses/{orphan}")))["status"] == "failed",
                TimeSpan.FromSeconds(10), "the dead instance's background response is reported failed");
            Assert.Equal("instance-lost", (string?)orphaned!["error"]!["code"]);

            var verification = await Http.JsonAsync(await clientB.GetAsync("/v1/admin/audit/verify"));
            Assert.True((bool)verification["valid"]!, verification.ToJsonString());
        }
        finally
        {
            foreach (var folder in folders) try { Directory.Delete(folder, recursive: true); } catch (IOException) { }
        }
    }

    static async Task<(string Id, string Secret)> CreateKeyAsync(HttpClient admin, object request)
    {
        var created = await Http.JsonAsync(await admin.PostAsJsonAsync("/v1/admin/keys", request));
        return ((string)created["key"]!["id"]!, (string)created["secret"]!);
    }

    static Task<HttpResponseMessage> Send(HttpClient client, string key, HttpMethod method, string path)
    {
        var request = new HttpRequestMessage(method, path);
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", key);
        return client.SendAsync(request);
    }
}
