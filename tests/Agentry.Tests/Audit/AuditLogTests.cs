using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Agentry.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Agentry.Tests.Audit;

public sealed class AuditLogTests
{
    static async Task<JsonArray> EventsAsync(AgentryApp app, string query = "") =>
        (await Http.JsonAsync(await app.Client.GetAsync($"/v1/admin/audit?limit=200{query}")))["data"]!.AsArray();

    static async Task<JsonArray> WaitForEventsAsync(AgentryApp app, string action, int count)
    {
        JsonArray events = [];
        await Wait.UntilAsync(async () => (events = await EventsAsync(app, $"&action={action}")).Count >= count, because: $"{count} {action} event(s)");
        return events;
    }

    [Fact]
    public async Task Security_relevant_changes_are_recorded_with_actor_target_and_outcome()
    {
        await using var app = new AgentryApp();
        var (keyId, secret) = await app.CreateKeyAsync("writer", ["agents:write"]);
        var writer = app.CreateApiClient(secret);
        await Http.ExpectAsync(await writer.PostAsJsonAsync("/v1/agents", new { id = "temp", name = "Temp" }), HttpStatusCode.Created);
        await Http.ExpectAsync(await writer.PutAsJsonAsync("/v1/agents/temp", new { id = "temp", name = "Temp 2" }), HttpStatusCode.OK);
        await Http.ExpectAsync(await writer.DeleteAsync("/v1/agents/temp"), HttpStatusCode.NoContent);
        await Http.ExpectAsync(await app.Client.DeleteAsync($"/v1/admin/keys/{keyId}"), HttpStatusCode.OK);

        var created = (await WaitForEventsAsync(app, "agent.created", 1)).Single()!;
        Assert.Equal(keyId, (string?)created["actor"]);
        Assert.Equal("agent:temp", (string?)created["target"]);
        Assert.Equal("success", (string?)created["outcome"]);
        Assert.Equal("Temp", (string?)created["detail"]!["name"]);
        Assert.False(string.IsNullOrEmpty((string?)created["traceId"]));
        await WaitForEventsAsync(app, "agent.updated", 1);
        await WaitForEventsAsync(app, "agent.deleted", 1);

        var keyEvents = await WaitForEventsAsync(app, "key.revoked", 1);
        Assert.Equal($"key:{keyId}", (string?)keyEvents[0]!["target"]);
        var bootstrap = await WaitForEventsAsync(app, "security.bootstrap", 1);
        Assert.Equal("system", (string?)bootstrap[0]!["actor"]);

        var all = await EventsAsync(app);
        var everything = all.ToJsonString();
        Assert.DoesNotContain(secret, everything);           // secrets never reach the log
        Assert.DoesNotContain(AgentryApp.AdminKey, everything);

        var byActor = await EventsAsync(app, $"&actor={keyId}");
        Assert.Equal(3, byActor.Count);
        var future = await EventsAsync(app, $"&from={Uri.EscapeDataString(DateTimeOffset.UtcNow.AddHours(1).ToString("O"))}");
        Assert.Empty(future);
        var past = await EventsAsync(app, $"&to={Uri.EscapeDataString(DateTimeOffset.UtcNow.AddHours(1).ToString("O"))}");
        Assert.Equal(all.Count, past.Count);
    }

    [Fact]
    public async Task Repeated_failures_are_aggregated_and_nothing_is_lost_on_a_graceful_shutdown()
    {
        var folder = Directory.CreateTempSubdirectory("agentry-audit-").FullName;
        try
        {
            await using (var app = new AgentryApp(settings: new() { ["Data:Directory"] = folder, ["RateLimit:PermitsPerMinute"] = "3" }))
            {
                var intruder = app.CreateApiClient("agk_guessing-keys-is-not-going-to-work-0000");
                for (var i = 0; i < 5; i++) await intruder.GetAsync("/v1/agents");
                await app.Client.PostAsJsonAsync("/v1/agents", new { id = "kept", name = "Kept" }); // queued right before shutdown
            }

            await using var restarted = new AgentryApp(settings: new() { ["Data:Directory"] = folder });
            var failures = await EventsAsync(restarted, "&action=auth.failed");
            var failure = Assert.Single(failures)!;
            Assert.Equal(5, (int)failure["count"]!); // five failures, one row
            Assert.Equal("unknown", (string?)failure["outcome"]);
            Assert.Equal("127.0.0.1", (string?)failure["clientIp"]);
            var limited = Assert.Single(await EventsAsync(restarted, "&action=ratelimit.rejected"))!;
            Assert.Equal(2, (int)limited["count"]!); // the per-IP limit of 3 refused the last two
            Assert.Single(await EventsAsync(restarted, "&action=agent.created"));
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>
    /// The property a SIGKILL tests only by chance: when the API answers 2xx for a change, its audit event is already
    /// stored. With the background writer removed, nothing but the request itself can have stored it.
    /// </summary>
    [Fact]
    public async Task An_acknowledged_change_has_its_audit_event_stored_before_the_response_with_no_writer_running()
    {
        var folder = Directory.CreateTempSubdirectory("agentry-audit-").FullName;
        try
        {
            string keyId;
            await using (var app = new AgentryApp(settings: new() { ["Data:Directory"] = folder }, services: services =>
            {
                foreach (var writer in services.Where(d => d.ServiceType == typeof(Microsoft.Extensions.Hosting.IHostedService) &&
                    d.ImplementationFactory?.Method.ReturnType == typeof(Agentry.Audit.AuditWriter)).ToList())
                    services.Remove(writer);
            }))
            {
                keyId = (await app.CreateKeyAsync("durable", ["chat"])).Id;
                var agent = await app.Client.PutAsJsonAsync("/v1/agents/durable", new { id = "durable", name = "Durable" });
                await Http.ExpectAsync(agent, HttpStatusCode.Created);

                await using var scope = app.Services.CreateAsyncScope();
                var db = scope.ServiceProvider.GetRequiredService<AgentryDbContext>();
                Assert.Equal(1, await db.AuditOutbox.CountAsync(e => e.Action == "key.created" && e.Target == $"key:{keyId}"));
                Assert.Equal(1, await db.AuditOutbox.CountAsync(e => e.Action == "agent.created" && e.Target == "agent:durable"));
            }

            // The next start chains what was staged; the chain verifies.
            await using var restarted = new AgentryApp(settings: new() { ["Data:Directory"] = folder });
            var created = await WaitForEventsAsync(restarted, "key.created", 1);
            Assert.Contains(created, e => (string?)e!["target"] == $"key:{keyId}");
            var verification = await Http.JsonAsync(await restarted.Client.GetAsync("/v1/admin/audit/verify"));
            Assert.True((bool)verification["valid"]!);
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public async Task A_rule_that_fired_in_a_turn_that_failed_before_any_output_is_still_audited()
    {
        await using var openAi = new FakeOpenAiServer();
        await using var app = new AgentryApp(openAi, new() { ["Models:Resilience:MaxRetries"] = "0" });
        openAi.Enqueue(FakeReply.Fail(500));
        var response = await app.Client.PostAsJsonAsync("/v1/chat", new { message = "My card 4111 1111 1111 1111 was charged twice", agentId = "billing" });
        await Http.ProblemAsync(response, 502, Agentry.Api.ProblemTypes.UpstreamError);

        var redacted = Assert.Single(await WaitForEventsAsync(app, "rule.redact", 1))!;
        Assert.Equal("agent:billing", (string?)redacted["target"]);
        Assert.Empty((await Http.JsonAsync(await app.Client.GetAsync("/v1/conversations")))["data"]!.AsArray()); // the turn itself stored nothing
    }

    [Fact]
    public async Task Deleting_a_conversation_is_audited()
    {
        await using var app = new AgentryApp();
        var id = (string)(await app.CreateConversationAsync())["id"]!;
        Assert.Equal(HttpStatusCode.NoContent, (await app.Client.DeleteAsync($"/v1/conversations/{id}")).StatusCode);
        var deleted = Assert.Single(await WaitForEventsAsync(app, "conversation.deleted", 1))!;
        Assert.Equal($"conversation:{id}", (string?)deleted["target"]);
    }

    [Fact]
    public async Task Audit_events_that_cannot_be_written_are_kept_raise_an_alert_and_are_written_once_the_database_recovers()
    {
        await using var app = new AgentryApp(settings: new() { ["Monitoring:SampleInterval"] = "00:00:00.200" });
        await app.Client.GetAsync("/v1/agents"); // started
        await TestDatabase.ExecuteAsync(app.DataDirectory, "ALTER TABLE audit_events RENAME TO audit_events_away");

        var (keyId, _) = await app.CreateKeyAsync("while-broken", ["chat"]);
        await Wait.UntilAsync(async () => (await Http.JsonAsync(await app.Client.GetAsync("/system/health")))["alerts"]!["active"]!.AsArray()
            .Any(a => (string?)a!["name"] == "audit-write-failing"), because: "the failing audit writes raise an alert");

        await TestDatabase.ExecuteAsync(app.DataDirectory, "ALTER TABLE audit_events_away RENAME TO audit_events");
        var created = await WaitForEventsAsync(app, "key.created", 1);
        Assert.Contains(created, e => (string?)e!["target"] == $"key:{keyId}");
        await WaitForEventsAsync(app, "alert.raised", 1); // the queued alert event was kept too
        Assert.True((bool)(await Http.JsonAsync(await app.Client.GetAsync("/v1/admin/audit/verify")))["valid"]!);
    }

    [Fact]
    public async Task Verification_detects_an_edited_and_a_deleted_event()
    {
        await using var app = new AgentryApp();
        for (var i = 0; i < 4; i++) await app.CreateKeyAsync($"k{i}", ["read"]);
        await WaitForEventsAsync(app, "key.created", 4);

        var intact = await Http.JsonAsync(await app.Client.GetAsync("/v1/admin/audit/verify"));
        Assert.True((bool)intact["valid"]!);
        Assert.True((long)intact["checked"]! >= 5);

        await using var scope = app.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<AgentryDbContext>();
        await db.Database.ExecuteSqlRawAsync("UPDATE audit_events SET outcome = 'failure' WHERE id = 3");
        var edited = await Http.JsonAsync(await app.Client.GetAsync("/v1/admin/audit/verify"));
        Assert.False((bool)edited["valid"]!);
        Assert.Equal(3, (long)edited["firstInvalidId"]!);
        Assert.Contains("changed", (string?)edited["problem"]);

        await db.Database.ExecuteSqlRawAsync("UPDATE audit_events SET outcome = 'success' WHERE id = 3");
        Assert.True((bool)(await Http.JsonAsync(await app.Client.GetAsync("/v1/admin/audit/verify")))["valid"]!);

        await db.Database.ExecuteSqlRawAsync("DELETE FROM audit_events WHERE id = 2");
        var deleted = await Http.JsonAsync(await app.Client.GetAsync("/v1/admin/audit/verify"));
        Assert.False((bool)deleted["valid"]!);
        Assert.Equal(3, (long)deleted["firstInvalidId"]!);
        Assert.Contains("deleted", (string?)deleted["problem"]);
    }
}
