using System.Diagnostics;
using System.Text.Json;

namespace Agentry.Tests.Api;

/// <summary>
/// The reference page as a browser meets it: Debian's headless Chromium (installed by .ci/run) loads /docs under the
/// service's strict content security policy. Every request the page makes must go to the service itself, the browser
/// must report no policy violation (a font from a CDN would be one), and the page must actually render.
/// </summary>
[Trait("Surface", "browser")] // a static page: what the browser shows does not change with the database, so not repeated in the PostgreSQL pass
public sealed class ReferencePageBrowserTests
{
    [Fact]
    public async Task The_reference_page_renders_in_a_browser_and_requests_nothing_from_another_host()
    {
        await using var app = new AgentryApp();
        var origin = app.Client.BaseAddress!.GetLeftPart(UriPartial.Authority);
        var scratch = Directory.CreateTempSubdirectory("agentry-chromium-").FullName;
        try
        {
            var netLog = Path.Combine(scratch, "net.json");
            var (dom, console) = await RunChromiumAsync(scratch, netLog, origin + "/docs");

            Assert.Contains("<title>Agentry API", dom, StringComparison.Ordinal);
            Assert.Contains("sidebar", dom, StringComparison.Ordinal); // rendered by the page's script, not just served
            Assert.DoesNotContain("Content Security Policy", console, StringComparison.Ordinal);
            Assert.DoesNotContain("Refused to", console, StringComparison.Ordinal);

            var requested = PageRequests(await File.ReadAllTextAsync(netLog), origin);
            Assert.Contains(origin + "/openapi/v1.json", requested); // the page read the document…
            Assert.All(requested, url => Assert.StartsWith(origin + "/", url, StringComparison.Ordinal)); // …and nothing from elsewhere
        }
        finally
        {
            Directory.Delete(scratch, recursive: true);
        }
    }

    static async Task<(string Dom, string Console)> RunChromiumAsync(string scratch, string netLog, string url)
    {
        // The flags keep Chromium's own background traffic down (this machine has no outside network); the page's
        // requests are told apart from what is left by their initiator.
        var start = new ProcessStartInfo("chromium")
        {
            ArgumentList =
            {
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", $"--user-data-dir={Path.Combine(scratch, "profile")}", $"--log-net-log={netLog}",
                "--enable-logging=stderr", "--v=0", "--virtual-time-budget=10000", "--dump-dom", url,
            },
            RedirectStandardOutput = true, RedirectStandardError = true,
        };
        using var chromium = Process.Start(start) ?? throw new InvalidOperationException("chromium did not start");
        var dom = chromium.StandardOutput.ReadToEndAsync();
        var console = chromium.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        try
        {
            await chromium.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            chromium.Kill(entireProcessTree: true);
            throw;
        }
        return (await dom, await console);
    }

    /// <summary>The URLs of requests the page started (their initiator is the page's origin), from Chromium's NetLog.</summary>
    static List<string> PageRequests(string netLogJson, string origin)
    {
        using var log = JsonDocument.Parse(netLogJson);
        var startJob = log.RootElement.GetProperty("constants").GetProperty("logEventTypes").GetProperty("URL_REQUEST_START_JOB").GetInt32();
        var urls = new List<string>();
        foreach (var e in log.RootElement.GetProperty("events").EnumerateArray())
        {
            if (e.GetProperty("type").GetInt32() != startJob || !e.TryGetProperty("params", out var p)) continue;
            if (p.TryGetProperty("initiator", out var initiator) && initiator.GetString() == origin) urls.Add(p.GetProperty("url").GetString()!);
        }
        return urls;
    }
}
