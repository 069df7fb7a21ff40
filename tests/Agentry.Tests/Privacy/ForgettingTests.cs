using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Agentry.Api;
using Agentry.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace Agentry.Tests.Privacy;

/// <summary>
/// Forgetting a user on request leaves nothing of them in any table (the audit log names them by hash), after an export
/// that holds everything deleted; retention deletes what is older than configured, in batches.
/// </summary>
public sealed class ForgettingTests
{
    /// <summary>Every row of every table the service's model maps, as text (binary columns as their length).</summary>
    static async Task<Dictionary<string, List<string>>> DumpAsync(AgentryApp app)
    {
        List<string> tables;
        await using (var scope = app.Services.CreateAsyncScope())
            tables = [.. scope.ServiceProvider.GetRequiredService<AgentryDbContext>().Model.GetEntityTypes().Select(t => t.GetTableName()!).Distinct()];
        var dump = new Dictionary<string, List<string>>();
        await using var connection = TestDatabase.Connect(app.DataDirectory, readOnly: true);
        await connection.OpenAsync();
        foreach (var table in tables)
        {
            await using var command = connection.CreateCommand();
            command.CommandText = $"SELECT * FROM {table}";
            await using var reader = await command.ExecuteReaderAsync();
            var rows = new List<string>();
            while (await reader.ReadAsync())
            {
                var row = new StringBuilder();
                for (var i = 0; i < reader.FieldCount; i++)
                    row.Append(reader.GetName(i)).Append('=').Append(reader.IsDBNull(i) ? "" : reader.GetValue(i) is byte[] bytes ? $"<{bytes.Length} bytes>" : reader.GetValue(i).ToString()).Append(" | ");
                rows.Add(row.ToString());
            }
            dump[table] = rows;
        }
        return dump;
    }

    [Fact]
    public async Task A_forgotten_user_leaves_no_row_behind_in_any_table_and_the_export_taken_before_holds_everything()
    {
        await using var app = new AgentryApp();
        var (_, secret) = await app.CreateKeyAsync("shop", ["chat"]);
        using var shop = app.CreateApiClient(secret);
        const string user = "dora@example.com";
        const string secretText = "my-unique-secret-phrase";

        // Everything a user leaves: conversations and messages (searched, so with vectors), a memory from a turn and one
        // from the API, a tool call in the ledger, a replayable response, a held approval.
        var first = await Http.JsonAsync(await shop.PostAsJsonAsync("/v1/chat", new { message = $"Remember that my code word is {secretText}", agentId = "support", userId = user }));
        var conversation = (string)first["conversationId"]!;
        using (var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat") { Content = JsonContent.Create(new { message = "/tool calculator {\"expression\":\"6*7\"}", agentId = "billing", userId = user, conversationId = conversation }) })
        {
            request.Headers.Add("Idempotency-Key", "forget-me-1");
            await Http.ExpectAsync(await shop.SendAsync(request), HttpStatusCode.OK);
        }
        await Http.JsonAsync(await shop.PostAsJsonAsync("/v1/chat", new { message = $"/tool conversation_search {{\"query\":\"{secretText}\"}}", agentId = "billing", userId = user, conversationId = conversation }));
        var second = await Http.JsonAsync(await shop.PostAsJsonAsync("/v1/chat", new { message = "/tool refund {\"amount\": 5000, \"reason\": \"broken hub\"}", agentId = "billing", userId = user }));
        await Http.ExpectAsync(await shop.PostAsJsonAsync("/v1/users/dora@example.com/memories", new { text = "Prefers phone calls." }), HttpStatusCode.Created);
        var ids = new[] { conversation, (string)second["conversationId"]! };

        // Someone else's data stays.
        await Http.JsonAsync(await shop.PostAsJsonAsync("/v1/chat", new { message = "Remember that I like tea", agentId = "support", userId = "eve" }));

        var before = await DumpAsync(app);
        Assert.Contains(before["memories"], r => r.Contains(secretText, StringComparison.Ordinal));
        Assert.Contains(before["tool_calls"], r => r.Contains(user, StringComparison.Ordinal));
        Assert.Contains(before["idempotent_requests"], r => r.Contains(conversation, StringComparison.Ordinal));
        Assert.Contains(before["embeddings"], r => r.Contains(conversation, StringComparison.Ordinal));

        // The export taken first holds everything that is about to go.
        var export = await Http.JsonAsync(await app.Client.GetAsync($"/v1/admin/users/{Uri.EscapeDataString(user)}/export"));
        Assert.Equal(2, export["conversations"]!.AsArray().Count);
        Assert.Equal(2, export["memories"]!.AsArray().Count);
        Assert.Contains(export["conversations"]!.AsArray().SelectMany(c => c!["toolCalls"]!.AsArray()), t => (string?)t!["tool"] == "calculator");
        var exportedMessages = export["conversations"]!.AsArray().Sum(c => c!["messages"]!.AsArray().Count);

        // Another key's user is not this key's to forget; this key owns all of dora's conversations.
        var (_, otherSecret) = await app.CreateKeyAsync("other", ["chat"]);
        using var other = app.CreateApiClient(otherSecret);
        await Http.ProblemAsync(await other.DeleteAsync("/v1/users/dora@example.com"), 404, ProblemTypes.UserNotFound);

        var forgotten = await Http.JsonAsync(await shop.DeleteAsync("/v1/users/dora@example.com"));
        Assert.Equal(2, (int)forgotten["conversations"]!);
        Assert.Equal(exportedMessages, (int)forgotten["messages"]!);
        Assert.Equal(2, (int)forgotten["memories"]!);
        Assert.True((int)forgotten["toolCalls"]! >= 2, forgotten.ToJsonString());
        Assert.True((int)forgotten["embeddings"]! >= 3, forgotten.ToJsonString()); // two memories and the searched conversation's messages
        Assert.Equal(1, (int)forgotten["idempotencyRecords"]!);
        Assert.Equal(1, (int)forgotten["approvals"]!);

        var after = await DumpAsync(app);
        foreach (var (table, rows) in after)
        {
            foreach (var row in rows)
            {
                Assert.DoesNotContain(user, row, StringComparison.Ordinal);
                Assert.DoesNotContain(secretText, row, StringComparison.Ordinal);
                Assert.DoesNotContain("Prefers phone calls", row, StringComparison.Ordinal);
                // The audit log keeps the record that things happened to these conversations; no other table knows them.
                if (table != "audit_events")
                    foreach (var id in ids) Assert.DoesNotContain(id, row, StringComparison.Ordinal);
            }
        }
        Assert.Contains(after["memories"], r => r.Contains("I like tea", StringComparison.Ordinal)); // eve is untouched
        await Http.ProblemAsync(await shop.GetAsync($"/v1/conversations/{conversation}"), 404, ProblemTypes.ConversationNotFound);
        await Http.ProblemAsync(await shop.DeleteAsync("/v1/users/dora@example.com"), 404, ProblemTypes.UserNotFound);

        // The audit event names the user by hash only, and the chain still verifies.
        var forgetEvent = Assert.Single(await app.AuditEventsAsync("user.forgotten"))!;
        Assert.Equal($"user:{Agentry.Memory.UserHash.Of(user)}", (string?)forgetEvent["target"]);
        await Wait.UntilAsync(async () => (bool)(await Http.JsonAsync(await app.Client.GetAsync("/v1/admin/audit/verify")))["valid"]!, because: "the audit chain verifies");
    }

    [Fact]
    public async Task Retention_deletes_old_conversations_in_batches_and_old_audit_events_behind_an_anchor_that_keeps_the_chain_valid()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var app = new AgentryApp(settings: new()
        {
            ["Data:Retention:Conversations"] = "30.00:00:00", ["Data:Retention:Audit"] = "60.00:00:00", ["Data:Retention:Analytics"] = "60.00:00:00",
            // The clock jumps 92 days in all, and a periodic timer on it fires once per period passed, inline in Advance:
            // hourly passes and the MCP sync's 15 s were 2,200 passes and half a million syncs (50 of this test's 53 s).
            ["Data:Retention:Interval"] = "1.00:00:00", ["Data:Retention:BatchSize"] = "2", ["Mcp:SyncInterval"] = "1.00:00:00",
        }, services: AgentryApp.On(clock));
        var old = new List<string>();
        for (var i = 0; i < 5; i++) old.Add((string)(await app.CreateConversationAsync("support"))["id"]!);
        await app.SendAsync(old[0], "hello");
        clock.Advance(TimeSpan.FromDays(20));
        var recent = (string)(await app.CreateConversationAsync("support"))["id"]!;
        clock.Advance(TimeSpan.FromDays(11)); // the first five are 31 days old now, the last 11 days

        await Wait.UntilAsync(async () => (await Http.JsonAsync(await app.Client.GetAsync("/v1/conversations?limit=100")))["data"]!.AsArray().Count == 1,
            because: "the retention job deleted the old conversations");
        Assert.Equal(recent, (string?)(await Http.JsonAsync(await app.Client.GetAsync("/v1/conversations?limit=100")))["data"]![0]!["id"]);
        Assert.Equal(0L, Convert.ToInt64(await TestDatabase.ScalarAsync(app.DataDirectory, $"SELECT count(*) FROM messages WHERE conversation_id = '{old[0]}'", readOnly: true),
            System.Globalization.CultureInfo.InvariantCulture));

        // Audit: events older than 60 days go; the anchor keeps the chain verifiable from where it now starts. A new
        // database holds few events of its own, so some are written that pruning must remove.
        for (var i = 0; i < 5; i++) await app.CreateKeyAsync($"old-{i}", ["read"]);
        var auditBefore = (await Http.JsonAsync(await app.Client.GetAsync("/v1/admin/audit/verify")));
        Assert.True((bool)auditBefore["valid"]!);
        clock.Advance(TimeSpan.FromDays(61));
        await Wait.UntilAsync(async () =>
        {
            var events = (await Http.JsonAsync(await app.Client.GetAsync("/v1/admin/audit?action=retention.applied&limit=100")))["data"]!.AsArray();
            return events.Any(e => e!["detail"]?["auditThroughHash"] is not null);
        }, because: "the retention job pruned the audit log");
        await Wait.UntilAsync(async () =>
        {
            var verification = await Http.JsonAsync(await app.Client.GetAsync("/v1/admin/audit/verify"));
            return (bool)verification["valid"]! && (long)verification["checked"]! < (long)auditBefore["checked"]!;
        }, because: "the pruned chain verifies from its anchor");
    }
}
