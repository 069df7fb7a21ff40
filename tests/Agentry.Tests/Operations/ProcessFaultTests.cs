using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using Agentry.Api;
using Microsoft.Data.Sqlite;
using Xunit.Abstractions;

namespace Agentry.Tests.Operations;

/// <summary>
/// What an operator meets with the real process: SIGTERM during a stalled stream, SIGKILL under load, and the log
/// lines a failing provider and a bad key produce. Each test starts the built service as a child process.
/// </summary>
public sealed class ProcessFaultTests(ITestOutputHelper output) : IDisposable
{
    readonly string _folder = Directory.CreateTempSubdirectory("agentry-process-").FullName;

    [Fact]
    public async Task Sigterm_during_a_stalled_stream_ends_it_with_an_error_event_stores_why_and_exits_cleanly()
    {
        await using var openAi = new FakeOpenAiServer();
        openAi.Enqueue(new FakeReply { Text = "never", Gate = new TaskCompletionSource().Task }); // accepts the request, never answers
        await using var service = new AgentryProcess(_folder, new()
        {
            ["OPENAI_API_KEY"] = "sk-test", ["OPENAI_BASE_URL"] = openAi.BaseUrl, ["Conversations:ShutdownGrace"] = "00:00:01",
        });
        using var client = await service.StartedAsync();

        var streaming = Sse.StartAsync(client, "/v1/chat", new { message = "hello", agentId = "support", stream = true });
        await Wait.UntilAsync(() => openAi.Requests.Count == 1, because: "the turn waits on the silent provider");
        service.Terminate();

        using var response = await streaming;
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var events = await Sse.ReadAllAsync(response);
        var error = Assert.Single(events);
        Assert.Equal("error", error.Type);
        Assert.Equal(ProblemTypes.ShuttingDown, (string?)error.Data!["type"]);
        Assert.Equal(0, await service.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.DoesNotContain("Unhandled exception", service.Output);

        // What was said is stored, with the true reason; the turn is counted in analytics by the last flush.
        Assert.Equal("interrupted|shutdown", Scalar("SELECT status || '|' || finish_reason FROM messages WHERE role = 'assistant'"));
        Assert.Equal("hello", Scalar("SELECT content FROM messages WHERE role = 'user'"));
        Assert.Equal("1|1", Scalar("SELECT requests || '|' || errors FROM analytics_buckets WHERE dimension = 'agent' AND value = 'support'"));
    }

    [Fact]
    public async Task Every_key_creation_answered_201_has_its_audit_event_after_a_SIGKILL()
    {
        var acknowledged = new ConcurrentBag<string>();
        await using (var service = new AgentryProcess(_folder))
        {
            using var client = await service.StartedAsync();
            using var stop = new CancellationTokenSource();
            var killed = 0;
            // Eight clients create keys; the one that gets the 80th acknowledgement kills the process at once, so
            // acknowledgements are in flight when it dies.
            var writers = Enumerable.Range(0, 8).Select(w => Task.Run(async () =>
            {
                for (var i = 0; !stop.IsCancellationRequested; i++)
                {
                    try
                    {
                        var response = await client.PostAsJsonAsync("/v1/admin/keys", new { name = $"w{w}-{i}", scopes = new[] { "chat" } }, stop.Token);
                        if (response.StatusCode != HttpStatusCode.Created) continue;
                        acknowledged.Add((string)(await Http.JsonAsync(response))["key"]!["id"]!);
                        if (acknowledged.Count >= 80 && Interlocked.Exchange(ref killed, 1) == 0)
                        {
                            service.KillHard();
                            await stop.CancelAsync();
                        }
                    }
                    catch (Exception e) when (e is HttpRequestException or OperationCanceledException or IOException)
                    {
                        return; // the process is gone
                    }
                }
            })).ToArray();
            await Task.WhenAll(writers).WaitAsync(TimeSpan.FromSeconds(90));
            Assert.Equal(1, killed);
        }
        output.WriteLine($"{acknowledged.Count} key creations acknowledged before SIGKILL");

        var verify = await AgentryProcess.RunCommandAsync(_folder, "audit", "verify");
        Assert.True(verify.ExitCode == 0, verify.Output);
        Assert.Contains("Audit log intact", verify.Output);
        var missing = acknowledged.Where(id => Scalar($"SELECT count(*) FROM audit_events WHERE action = 'key.created' AND target = 'key:{id}'") != "1").ToList();
        Assert.True(missing.Count == 0, $"{missing.Count} of {acknowledged.Count} acknowledged keys have no key.created audit event");
    }

    [Fact]
    public async Task A_failed_model_call_logs_one_concise_line_and_refused_keys_are_counted_not_logged_per_request()
    {
        await using var openAi = new FakeOpenAiServer();
        for (var i = 0; i < 3; i++) openAi.Enqueue(FakeReply.Fail(500));
        await using var service = new AgentryProcess(_folder, new() { ["OPENAI_API_KEY"] = "sk-test", ["OPENAI_BASE_URL"] = openAi.BaseUrl });
        using var client = await service.StartedAsync();
        await Wait.UntilAsync(() => service.Lines.Any(l => l.Contains("\"EventId\":102", StringComparison.Ordinal)) &&
            service.Lines.Any(l => l.Contains("Content root path", StringComparison.Ordinal)), because: "start-up logging is done");
        var before = service.Lines.Count;

        var failed = await client.PostAsJsonAsync("/v1/chat", new { message = "hello", agentId = "support" });
        await Http.ProblemAsync(failed, 502, ProblemTypes.UpstreamError);
        Assert.Equal(3, openAi.Requests.Count); // two retries behind the one line

        using var intruder = new HttpClient { BaseAddress = client.BaseAddress };
        intruder.DefaultRequestHeaders.Authorization = new("Bearer", "agk_not-a-key-of-this-service-000000000");
        for (var i = 0; i < 20; i++) Assert.Equal(HttpStatusCode.Unauthorized, (await intruder.GetAsync("/v1/agents")).StatusCode);
        // Console logging keeps order: once the refusal's line is out, every line of the failed call is out too.
        await Wait.UntilAsync(() => service.Lines.Skip(before).Any(l => l.Contains("\"EventId\":4100", StringComparison.Ordinal)), because: "the sampled refusal line");

        var logged = service.Lines.Skip(before).ToList();
        foreach (var line in logged) output.WriteLine(line);
        var callLines = logged.Where(l => !l.Contains("\"EventId\":4100", StringComparison.Ordinal)).ToList();
        var failureLine = Assert.Single(callLines);
        Assert.Contains("\"EventId\":4200", failureLine);
        Assert.Contains("upstream status 500, 3 attempt(s)", failureLine);
        Assert.Contains("\"TraceId\"", failureLine);
        Assert.DoesNotContain("   at ", failureLine); // no stack trace for an expected failure
        var bytes = Encoding.UTF8.GetByteCount(failureLine);
        output.WriteLine($"log bytes for one failed model call: {bytes}");
        Assert.True(bytes < 2_000, $"{bytes} bytes");
        Assert.Single(logged, l => l.Contains("\"EventId\":4100", StringComparison.Ordinal)); // 20 refusals, one line

        using var metrics = new HttpClient { BaseAddress = client.BaseAddress };
        var scraped = await metrics.GetStringAsync("/metrics");
        Assert.Matches("agentry_auth_failures_total\\{[^}]*reason=\"unknown\"[^}]*\\} 20", scraped);
        Assert.Matches("agentry_model_failures_total\\{[^}]*type=\"upstream-error\"[^}]*\\} 1", scraped);
    }

    string? Scalar(string sql) => TestDatabase.ScalarAsync(_folder, sql, readOnly: true).GetAwaiter().GetResult()?.ToString();

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        try { Directory.Delete(_folder, recursive: true); } catch (IOException) { }
    }
}
