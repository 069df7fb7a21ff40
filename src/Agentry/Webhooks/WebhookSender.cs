using System.Text.Json;
using Microsoft.Extensions.Options;
using StandardWebhooks;

namespace Agentry.Webhooks;

/// <summary>
/// Announces events to the configured endpoints, each call signed per the Standard Webhooks specification
/// (<c>webhook-id</c>, <c>webhook-timestamp</c>, <c>webhook-signature</c>, StandardWebhooks package). The body is thin —
/// <c>{type, timestamp, data}</c> with ids and status, never a conversation's text — so a receiver fetches what it may
/// see with its own key. Sent beside the work that caused it (retried by the HTTP client's resilience handler); a
/// receiver that is down loses the event and the log says so.
/// </summary>
public sealed partial class WebhookSender(IOptions<WebhookOptions> options, IHttpClientFactory http, Streaming.DetachedRuns runs, TimeProvider time,
    ILogger<WebhookSender> logger)
{
    public const string Client = "webhooks";
    static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public void Announce(string type, object data)
    {
        foreach (var endpoint in options.Value.Endpoints.Where(e => e.Wants(type)))
            runs.Start(() => SendAsync(endpoint, type, data));
    }

    async Task SendAsync(WebhookEndpoint endpoint, string type, object data)
    {
        var now = time.GetUtcNow();
        var id = Data.Ids.New("msg");
        var webhook = new StandardWebhook(endpoint.Secret!);
        using var request = new HttpRequestMessage(HttpMethod.Post, endpoint.Url)
        {
            Content = webhook.MakeHttpContent(new { type, timestamp = now, data }, id, now, Json),
        };
        try
        {
            using var response = await http.CreateClient(Client).SendAsync(request);
            if (!response.IsSuccessStatusCode) LogFailed(null, type, new Uri(endpoint.Url!).Host, (int)response.StatusCode);
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or Polly.Timeout.TimeoutRejectedException)
        {
            LogFailed(e, type, new Uri(endpoint.Url!).Host, 0);
        }
    }

    [LoggerMessage(EventId = 8200, Level = LogLevel.Warning, Message = "Webhook {Type} to {Host} failed (status {Status})")]
    partial void LogFailed(Exception? exception, string type, string host, int status);
}
