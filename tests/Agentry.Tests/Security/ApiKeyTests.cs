using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using Agentry.Api;
using Agentry.Data;
using Agentry.Security;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace Agentry.Tests.Security;

public sealed class ApiKeyTests
{
    [Fact]
    public async Task Requests_without_a_valid_key_get_401_with_WWW_Authenticate()
    {
        await using var app = new AgentryApp();
        var anonymous = app.CreateApiClient(null);
        var missing = await anonymous.GetAsync("/v1/agents");
        await Http.ProblemAsync(missing, 401, ProblemTypes.Unauthorized);
        Assert.Equal("Bearer", missing.Headers.WwwAuthenticate.Single().Scheme);

        var wrong = await app.CreateApiClient("agk_this-is-not-a-real-key-at-all-000000").GetAsync("/v1/agents");
        var problem = await Http.ProblemAsync(wrong, 401, ProblemTypes.Unauthorized);
        Assert.Equal("The API key is not valid.", (string?)problem["detail"]);
        Assert.Contains("invalid_token", wrong.Headers.WwwAuthenticate.ToString());

        // Probes and the API description stay open.
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/health/live")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/health/ready")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/openapi/v1.json")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/docs/")).StatusCode);
    }

    [Fact]
    public async Task Keys_are_shown_once_stored_hashed_and_work_in_either_header()
    {
        await using var app = new AgentryApp();
        var created = await app.Client.PostAsJsonAsync("/v1/admin/keys", new { name = "ci", scopes = new[] { "chat", "read" } });
        await Http.ExpectAsync(created, HttpStatusCode.Created);
        var body = await Http.JsonAsync(created);
        var secret = (string)body["secret"]!;
        var id = (string)body["key"]!["id"]!;
        Assert.Matches("^agk_[A-Za-z0-9_-]{43}$", secret);
        Assert.Equal(secret[..12], (string?)body["key"]!["prefix"]);

        var listing = await app.Client.GetStringAsync("/v1/admin/keys");
        Assert.DoesNotContain(secret, listing);
        Assert.Contains(id, listing);

        await using (var scope = app.Services.CreateAsyncScope())
        {
            var stored = await scope.ServiceProvider.GetRequiredService<AgentryDbContext>().ApiKeys.SingleAsync(k => k.Id == id);
            Assert.Equal(ApiKeySecrets.Hash(secret), stored.Hash);
            Assert.DoesNotContain(secret, stored.Hash + stored.Prefix + stored.Name);
        }

        Assert.Equal(HttpStatusCode.OK, (await app.CreateApiClient(secret).GetAsync("/v1/agents")).StatusCode);
        var viaHeader = app.CreateApiClient(null);
        viaHeader.DefaultRequestHeaders.Add("X-API-Key", secret);
        Assert.Equal(HttpStatusCode.OK, (await viaHeader.GetAsync("/v1/agents")).StatusCode);
    }

    [Fact]
    public async Task Revoked_rotated_and_expired_keys_stop_working_immediately()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow) { AutoAdvanceAmount = TimeSpan.FromMilliseconds(1) };
        await using var app = new AgentryApp(services: s => s.AddSingleton<TimeProvider>(clock));
        var (id, secret) = await app.CreateKeyAsync("soon-revoked", ["read"]);
        var client = app.CreateApiClient(secret);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/v1/agents")).StatusCode); // now cached

        Assert.Equal(HttpStatusCode.OK, (await app.Client.DeleteAsync($"/v1/admin/keys/{id}")).StatusCode);
        var revoked = await Http.ProblemAsync(await client.GetAsync("/v1/agents"), 401, ProblemTypes.Unauthorized);
        Assert.Equal("The API key has been revoked.", (string?)revoked["detail"]);
        await Http.ProblemAsync(await app.Client.PostAsync($"/v1/admin/keys/{id}/rotate", null), 404, ProblemTypes.KeyNotFound);

        var (rotatingId, oldSecret) = await app.CreateKeyAsync("rotating", ["read"]);
        var rotated = await Http.JsonAsync(await app.Client.PostAsync($"/v1/admin/keys/{rotatingId}/rotate", null));
        var newSecret = (string)rotated["secret"]!;
        Assert.NotEqual(oldSecret, newSecret);
        await Http.ProblemAsync(await app.CreateApiClient(oldSecret).GetAsync("/v1/agents"), 401, ProblemTypes.Unauthorized);
        Assert.Equal(HttpStatusCode.OK, (await app.CreateApiClient(newSecret).GetAsync("/v1/agents")).StatusCode);

        var (expiringId, expiringSecret) = await app.CreateKeyAsync("expiring", ["read"]);
        var expiring = app.CreateApiClient(expiringSecret);
        Assert.Equal(HttpStatusCode.OK, (await expiring.GetAsync("/v1/agents")).StatusCode); // cached from here
        await using (var scope = app.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<AgentryDbContext>();
            await db.ApiKeys.Where(k => k.Id == expiringId).ExecuteUpdateAsync(s => s.SetProperty(k => k.ExpiresAt, clock.GetUtcNow().AddSeconds(-1)));
        }
        // An expiry written behind the service's back (another instance, a script) is seen once the key cache lapses.
        Assert.Equal(HttpStatusCode.OK, (await expiring.GetAsync("/v1/agents")).StatusCode);
        clock.Advance(app.Services.GetRequiredService<IOptions<SecurityOptions>>().Value.KeyCacheDuration + TimeSpan.FromSeconds(1));
        await Http.ProblemAsync(await expiring.GetAsync("/v1/agents"), 401, ProblemTypes.Unauthorized);
        var keys = await Http.JsonAsync(await app.Client.GetAsync("/v1/admin/keys"));
        Assert.Equal("expired", (string?)keys["data"]!.AsArray().Single(k => (string?)k!["id"] == expiringId)!["status"]);
        await Http.ProblemAsync(await app.Client.DeleteAsync("/v1/admin/keys/key_nope"), 404, ProblemTypes.KeyNotFound);
    }

    [Fact]
    public async Task A_key_revoked_while_it_is_in_heavy_use_is_refused_by_every_request_sent_after_the_revocation_returns()
    {
        await using var app = new AgentryApp(settings: new() { ["Security:KeyCacheDuration"] = "00:00:30" }); // a long cache: only invalidation can stop it
        for (var round = 0; round < 3; round++)
        {
            var (id, secret) = await app.CreateKeyAsync($"busy-{round}", ["read"]);
            var client = app.CreateApiClient(secret);
            using var stop = new CancellationTokenSource();
            // Eight clients keep the key's lookups in flight while it is revoked.
            var load = Enumerable.Range(0, 8).Select(_ => Task.Run(async () =>
            {
                while (!stop.IsCancellationRequested) await client.GetAsync("/v1/agents?limit=1", CancellationToken.None);
            })).ToList();
            await Wait.UntilAsync(async () => (await client.GetAsync("/v1/agents?limit=1")).StatusCode == HttpStatusCode.OK, because: "the key is in use");
            await Http.ExpectAsync(await app.Client.DeleteAsync($"/v1/admin/keys/{id}"), HttpStatusCode.OK);
            var after = await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => client.GetAsync("/v1/agents?limit=1")));
            stop.Cancel();
            await Task.WhenAll(load);
            Assert.All(after, r => Assert.Equal(HttpStatusCode.Unauthorized, r.StatusCode));
        }
    }

    [Fact]
    public void Without_a_caller_nothing_is_visible()
    {
        // Every conversation endpoint needs a key, so a missing caller is a wiring mistake: it must see nothing, not all.
        var options = new Agentry.Security.SecurityOptions();
        Assert.False(Agentry.Security.ConversationAccess.SeesAll(null, options));
        var conversation = new Agentry.Conversations.Conversation { Id = "conv_x", AgentId = "support", OwnerKeyId = null };
        Assert.False(conversation.CanSee(null, options));
        Assert.False(conversation.CanSee(null, new Agentry.Security.SecurityOptions { ConversationIsolation = "none" }));
        Assert.Empty(new[] { conversation }.AsQueryable().VisibleTo(null, new Agentry.Security.SecurityOptions { ConversationIsolation = "none" }));
    }

    [Fact]
    public async Task Key_creation_is_validated()
    {
        await using var app = new AgentryApp();
        var problem = await Http.ProblemAsync(await app.Client.PostAsJsonAsync("/v1/admin/keys",
            new { name = "", scopes = new[] { "root" }, requestsPerMinute = 0, expiresAt = "2001-01-01T00:00:00Z" }), 400, ProblemTypes.ValidationFailed);
        Assert.Superset(new HashSet<string> { "name", "scopes[0]", "requestsPerMinute", "expiresAt" }, problem["errors"]!.AsObject().Select(e => e.Key).ToHashSet());
    }

    [Fact]
    public async Task Scopes_limit_what_a_key_may_do()
    {
        await using var app = new AgentryApp();
        var (_, chatSecret) = await app.CreateKeyAsync("chat-only", ["chat"]);
        var (_, readSecret) = await app.CreateKeyAsync("read-only", ["read"]);
        var (_, writerSecret) = await app.CreateKeyAsync("agent-writer", ["agents:write"]);
        var chat = app.CreateApiClient(chatSecret);
        var read = app.CreateApiClient(readSecret);
        var writer = app.CreateApiClient(writerSecret);

        await Http.ProblemAsync(await chat.PostAsJsonAsync("/v1/agents", new { id = "x", name = "X" }), 403, ProblemTypes.Forbidden);
        await Http.ProblemAsync(await read.PostAsJsonAsync("/v1/chat", new { message = "hi" }), 403, ProblemTypes.Forbidden);
        await Http.ProblemAsync(await writer.PostAsJsonAsync("/v1/chat", new { message = "hi" }), 403, ProblemTypes.Forbidden);
        await Http.ProblemAsync(await chat.GetAsync("/v1/admin/keys"), 403, ProblemTypes.Forbidden);
        await Http.ProblemAsync(await read.GetAsync("/v1/admin/audit"), 403, ProblemTypes.Forbidden);

        Assert.Equal(HttpStatusCode.Created, (await writer.PostAsJsonAsync("/v1/agents", new { id = "x", name = "X" })).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await writer.GetAsync("/v1/agents/x")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await read.GetAsync("/v1/agents")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await chat.PostAsJsonAsync("/v1/chat", new { message = "hi" })).StatusCode);
    }

    [Fact]
    public async Task A_chat_key_sees_only_its_own_conversations_and_an_admin_sees_all()
    {
        await using var app = new AgentryApp();
        var (_, aliceSecret) = await app.CreateKeyAsync("alice-app", ["chat"]);
        var (_, bobSecret) = await app.CreateKeyAsync("bob-app", ["chat", "read"]);
        var alice = app.CreateApiClient(aliceSecret);
        var bob = app.CreateApiClient(bobSecret);

        var aliceTurn = await Http.JsonAsync(await alice.PostAsJsonAsync("/v1/chat", new { message = "alice's secret" }));
        var aliceConversation = (string)aliceTurn["conversationId"]!;
        await Http.ExpectAsync(await bob.PostAsJsonAsync("/v1/chat", new { message = "bob here" }), HttpStatusCode.OK);

        await Http.ProblemAsync(await bob.GetAsync($"/v1/conversations/{aliceConversation}"), 404, ProblemTypes.ConversationNotFound);
        await Http.ProblemAsync(await bob.GetAsync($"/v1/conversations/{aliceConversation}/messages"), 404, ProblemTypes.ConversationNotFound);
        await Http.ProblemAsync(await bob.PostAsJsonAsync($"/v1/conversations/{aliceConversation}/messages", new { content = "sneaky" }), 404, ProblemTypes.ConversationNotFound);
        await Http.ProblemAsync(await bob.PostAsJsonAsync("/v1/chat", new { message = "sneaky", conversationId = aliceConversation }), 404, ProblemTypes.ConversationNotFound);
        await Http.ProblemAsync(await bob.DeleteAsync($"/v1/conversations/{aliceConversation}"), 404, ProblemTypes.ConversationNotFound);
        var bobList = await Http.JsonAsync(await bob.GetAsync("/v1/conversations"));
        Assert.Single(bobList["data"]!.AsArray());

        Assert.Equal(2, (await app.MessagesAsync(aliceConversation)).Count); // untouched, and visible to the admin
        var all = await Http.JsonAsync(await app.Client.GetAsync("/v1/conversations"));
        Assert.Equal(2, all["data"]!.AsArray().Count);
    }

    [Fact]
    public async Task Without_an_admin_key_setting_one_is_generated_into_an_owner_only_file()
    {
        await using var app = new AgentryApp(settings: new() { ["Security:AdminKey"] = null });
        app.StartServer();
        var file = Path.Combine(app.DataDirectory, KeyBootstrap.KeyFileName);
        Assert.True(File.Exists(file));
        if (!OperatingSystem.IsWindows()) Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
        var secret = (await File.ReadAllTextAsync(file)).Trim();
        Assert.StartsWith("agk_", secret);
        Assert.Equal(HttpStatusCode.OK, (await app.CreateApiClient(secret).GetAsync("/v1/admin/keys")).StatusCode);
        await Http.ProblemAsync(await app.Client.GetAsync("/v1/agents"), 401, ProblemTypes.Unauthorized); // the test default key was not imported
    }

    [Fact]
    public async Task Admin_key_can_come_from_a_file()
    {
        var file = Path.GetTempFileName();
        await File.WriteAllTextAsync(file, "agk_from-a-mounted-secret-file-0123456789\n");
        try
        {
            await using var app = new AgentryApp(settings: new() { ["Security:AdminKey"] = null, ["Security:AdminKeyFile"] = file });
            Assert.Equal(HttpStatusCode.OK, (await app.CreateApiClient("agk_from-a-mounted-secret-file-0123456789").GetAsync("/v1/admin/keys")).StatusCode);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task Security_can_be_disabled_only_in_Development()
    {
        // Outside Development the service refuses to start (ConfigurationTests runs the executable with Security:Enabled=false).
        await using var development = new AgentryApp(settings: new() { ["Security:Enabled"] = "false" }, environment: "Development");
        var anonymous = development.CreateApiClient(null);
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/v1/admin/keys")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await anonymous.PostAsJsonAsync("/v1/chat", new { message = "hi" })).StatusCode);
    }
}
