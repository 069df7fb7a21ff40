using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using StandardWebhooks;

namespace Agentry.Tests.Webhooks;

/// <summary>Events announced to a real receiver on loopback, each verified as a Standard Webhooks receiver would.</summary>
public sealed class WebhookTests
{
    [Fact]
    public async Task A_finished_background_response_and_a_held_approval_are_announced_signed()
    {
        await using var receiver = new FakeOpenAiServer();
        var secret = "whsec_" + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
        await using var app = new AgentryApp(settings: new()
        {
            ["Webhooks:Endpoints:0:Url"] = receiver.RootUrl + "/hooks", ["Webhooks:Endpoints:0:Secret"] = secret,
        });

        var response = await Http.JsonAsync(await app.Client.PostAsJsonAsync("/v1/responses", new { model = "support", input = "hello", background = true }));
        var id = (string)response["id"]!;
        await app.Client.PostAsJsonAsync("/v1/chat/completions",
            new { model = "billing", messages = new[] { new { role = "user", content = "/tool refund {\"amount\": 250, \"reason\": \"double charge\"}" } } });
        await Wait.UntilAsync(() => receiver.SignedWebhooks.Count >= 2, because: "both events are announced");

        var webhook = new StandardWebhook(secret);
        var events = new Dictionary<string, JsonNode>();
        foreach (var (body, headers) in receiver.SignedWebhooks)
        {
            webhook.Verify(body, new HeaderDictionary(headers.ToDictionary(h => h.Key, h => new Microsoft.Extensions.Primitives.StringValues(h.Value)))); // throws when not signed with the secret
            var payload = JsonNode.Parse(body)!;
            events[(string)payload["type"]!] = payload["data"]!;
        }
        Assert.Equal(id, (string?)events["response.completed"]["id"]);
        Assert.Equal("completed", (string?)events["response.completed"]["status"]);
        Assert.StartsWith("apr_", (string?)events["approval.pending"]["approval_id"]);
        Assert.Equal("refund", (string?)events["approval.pending"]["tool"]);
        Assert.DoesNotContain("double charge", string.Concat(receiver.SignedWebhooks.Select(w => w.Body))); // ids and status, never the conversation's text

        // A body changed on the way fails verification.
        var (original, originalHeaders) = receiver.SignedWebhooks[0];
        Assert.ThrowsAny<Exception>(() => webhook.Verify(original.Replace("\"data\"", "\"date\"", StringComparison.Ordinal),
            new HeaderDictionary(originalHeaders.ToDictionary(h => h.Key, h => new Microsoft.Extensions.Primitives.StringValues(h.Value)))));
    }
}
