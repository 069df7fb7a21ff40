using System.Text;

namespace Agentry.Bench;

/// <summary>
/// An OpenAI-compatible chat completions server on loopback that answers at once (or after a set latency) with a fixed
/// reply, streamed as SSE chunks when asked. Kestrel with one precomputed body per shape: the baseline row measures it
/// directly, so whatever a target adds on top is what the target costs.
/// </summary>
public sealed class FakeUpstream : IAsyncDisposable
{
    readonly WebApplication _app;

    FakeUpstream(WebApplication app, string baseUrl)
    {
        _app = app;
        BaseUrl = baseUrl;
    }

    /// <summary>The OpenAI base URL, ending in <c>/v1</c>.</summary>
    public string BaseUrl { get; }

    public static async Task<FakeUpstream> StartAsync(TimeSpan latency, int streamChunks, TimeSpan chunkDelay)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();

        const string reply = "Thanks for waiting. Your invoice was paid on the 3rd and nothing else is due this month.";
        var json = Encoding.UTF8.GetBytes($$$"""
            {"id":"chatcmpl-bench","object":"chat.completion","created":1764000000,"model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"{{{reply}}}"},"finish_reason":"stop"}],"usage":{"prompt_tokens":180,"completion_tokens":21,"total_tokens":201}}
            """);
        var words = reply.Split(' ');
        var chunks = Enumerable.Range(0, streamChunks).Select(i =>
        {
            var part = string.Join(' ', words.Where((_, w) => w % streamChunks == i)) + " ";
            return Encoding.UTF8.GetBytes($$"""data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1764000000,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"{{part}}"},"finish_reason":null}]}""" + "\n\n");
        }).ToList();
        var last = Encoding.UTF8.GetBytes("""data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1764000000,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":{"prompt_tokens":180,"completion_tokens":21,"total_tokens":201}}""" + "\n\ndata: [DONE]\n\n");
        var streamMarker = "\"stream\":true"u8.ToArray();

        app.MapGet("/v1/models", () => Results.Text("""{"object":"list","data":[{"id":"gpt-4o-mini","object":"model"}]}""", "application/json"));
        app.MapPost("/v1/chat/completions", async (HttpContext http) =>
        {
            var body = new MemoryStream();
            await http.Request.Body.CopyToAsync(body);
            if (latency > TimeSpan.Zero) await Task.Delay(latency);
            if (body.GetBuffer().AsSpan(0, (int)body.Length).IndexOf(streamMarker) < 0)
            {
                http.Response.ContentType = "application/json";
                http.Response.ContentLength = json.Length;
                await http.Response.Body.WriteAsync(json);
                return;
            }
            http.Response.ContentType = "text/event-stream";
            foreach (var chunk in chunks)
            {
                await http.Response.Body.WriteAsync(chunk);
                await http.Response.Body.FlushAsync();
                if (chunkDelay > TimeSpan.Zero) await Task.Delay(chunkDelay);
            }
            await http.Response.Body.WriteAsync(last);
        });
        await app.StartAsync();
        var address = app.Urls.First();
        return new FakeUpstream(app, address.TrimEnd('/') + "/v1");
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();
}
