using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

namespace Agentry.Tests.Observability;

public sealed class AlertTests
{
    [Fact]
    public async Task An_alert_raises_after_N_breaches_clears_after_M_and_is_signed_to_the_webhook()
    {
        await using var openAi = new FakeOpenAiServer();
        await using var app = new AgentryApp(openAi, new()
        {
            ["Monitoring:SampleInterval"] = "00:00:00.100",
            ["Monitoring:Alerts:0:Name"] = "streams-open", ["Monitoring:Alerts:0:Metric"] = "sseStreams", ["Monitoring:Alerts:0:Above"] = "0",
            ["Monitoring:Alerts:0:RaiseAfter"] = "3", ["Monitoring:Alerts:0:ClearAfter"] = "2",
            ["Monitoring:WebhookUrl"] = openAi.RootUrl + "/webhook", ["Monitoring:WebhookSecret"] = "whsec-test",
        });
        // The first sample is taken a moment after start (a loaded CI machine may ask before it).
        JsonObject system = [];
        await Wait.UntilAsync(async () => (system = await Http.JsonAsync(await app.Client.GetAsync("/system/health")))["resources"]?["workingSetMb"] is not null,
            because: "the resources are sampled");
        Assert.Empty(system["alerts"]!["active"]!.AsArray());
        Assert.True((double)system["resources"]!["workingSetMb"]! > 0);
        Assert.True((double)system["resources"]!["freeDiskMb"]! > 0);

        // A stream that stays open (the provider goes quiet after two words) breaches "sseStreams > 0" until the client leaves.
        openAi.Enqueue(new FakeReply { Text = string.Join(' ', Enumerable.Repeat("word", 60)), StallAfterChunks = 2 });
        var stream = Sse.StartAsync(app.Client, "/v1/chat", new { message = "hold", agentId = "support", stream = true });
        await Wait.UntilAsync(async () => (await Http.JsonAsync(await app.Client.GetAsync("/system/health")))["alerts"]!["active"]!.AsArray().Count == 1,
            because: "the alert is raised after three breaching samples");
        var active = (await Http.JsonAsync(await app.Client.GetAsync("/system/health")))["alerts"]!["active"]![0]!;
        Assert.Equal("streams-open", (string?)active["name"]);
        Assert.Equal("raised", (string?)active["state"]);

        (await stream).Dispose(); // the client hangs up; the stream closes
        await Wait.UntilAsync(async () => (await Http.JsonAsync(await app.Client.GetAsync("/system/health")))["alerts"]!["active"]!.AsArray().Count == 0,
            because: "the alert clears after two healthy samples");
        var recent = (await Http.JsonAsync(await app.Client.GetAsync("/system/health")))["alerts"]!["recent"]!.AsArray();
        Assert.Equal(["cleared", "raised"], recent.Select(a => (string)a!["state"]!).ToArray());

        await Wait.UntilAsync(() => openAi.Webhooks.Count == 2, because: "both changes are posted");
        foreach (var (body, signature) in openAi.Webhooks)
            Assert.Equal("sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes("whsec-test"), Encoding.UTF8.GetBytes(body))), signature);
        Assert.Equal(["raised", "cleared"], openAi.Webhooks.Select(w => (string)JsonNode.Parse(w.Body)!["alert"]!["state"]!).ToArray());
        // One timestamp format for every door: the webhook's as /system/health's (UTC, 'Z', milliseconds).
        var since = (string)JsonNode.Parse(openAi.Webhooks[0].Body)!["alert"]!["since"]!;
        Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", since);
        Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", (string)recent[0]!["since"]!);

        await Wait.UntilAsync(async () => (await Http.JsonAsync(await app.Client.GetAsync("/v1/admin/audit?action=alert.raised")))["data"]!.AsArray().Count == 1,
            because: "the alert is audited");
        var metrics = await app.Client.GetStringAsync("/metrics");
        Assert.Contains(metrics.Split('\n'), l => l.StartsWith("agentry_alerts_active{", StringComparison.Ordinal) && l.Contains("alert=\"streams-open\"", StringComparison.Ordinal));
    }

    [Fact]
    public async Task System_health_needs_an_admin_key()
    {
        await using var app = new AgentryApp();
        Assert.Equal(HttpStatusCode.Unauthorized, (await app.CreateApiClient(null).GetAsync("/system/health")).StatusCode);
        var (_, reader) = await app.CreateKeyAsync("r", ["read"]);
        Assert.Equal(HttpStatusCode.Forbidden, (await app.CreateApiClient(reader).GetAsync("/system/health")).StatusCode);
    }
}
