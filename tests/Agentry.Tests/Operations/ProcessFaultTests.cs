using System.Collections.Concurrent;
using System.Diagnostics;
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

    /// <summary>
    /// A rolling restart as a load balancer sees it: SIGTERM while a slow answer streams. Readiness turns 503 at once and
    /// new turns are refused with 503 + Retry-After while the stream goes on; at the grace deadline the stream ends with an
    /// error event, what was shown is stored as interrupted, the last flushes run, and the process exits 0.
    /// </summary>
    [Fact]
    public async Task Sigterm_mid_stream_drains_readiness_first_refuses_new_turns_and_keeps_what_was_shown()
    {
        await using var openAi = new FakeOpenAiServer();
        openAi.Enqueue(new FakeReply { Text = string.Join(' ', Enumerable.Range(1, 200).Select(i => $"w{i}")), ChunkDelay = TimeSpan.FromMilliseconds(50) });
        await using var service = new AgentryProcess(_folder, new()
        {
            ["OPENAI_API_KEY"] = "sk-test", ["OPENAI_BASE_URL"] = openAi.BaseUrl,
            ["Shutdown:DrainDelay"] = "00:00:02", ["Conversations:ShutdownGrace"] = "00:00:04",
        });
        using var client = await service.StartedAsync();
        using var probe = new HttpClient { BaseAddress = client.BaseAddress };
        Assert.Equal(HttpStatusCode.OK, (await probe.GetAsync("/health/ready")).StatusCode);

        using var response = await Sse.StartAsync(client, "/v1/chat", new { message = "a long story", agentId = "support", stream = true });
        var events = new List<SseEvent>();
        await using var reader = Sse.ReadAsync(response).GetAsyncEnumerator();
        while (events.Count(e => e.Type == "message.delta") < 5 && await reader.MoveNextAsync()) events.Add(reader.Current);

        var clock = Stopwatch.StartNew();
        service.Terminate();
        await Wait.UntilAsync(async () => (await probe.GetAsync("/health/ready")).StatusCode == HttpStatusCode.ServiceUnavailable, TimeSpan.FromSeconds(1),
            "readiness turns 503 at once");
        var refused = await client.PostAsJsonAsync("/v1/chat", new { message = "a new turn", agentId = "support" });
        await Http.ProblemAsync(refused, 503, ProblemTypes.ShuttingDown);
        Assert.NotNull(refused.Headers.RetryAfter);
        Assert.Equal(HttpStatusCode.OK, (await probe.GetAsync("/health/live")).StatusCode); // alive, just not taking work

        while (await reader.MoveNextAsync()) events.Add(reader.Current); // the stream went on, then ended at the deadline
        var shown = string.Concat(events.Where(e => e.Type == "message.delta").Select(e => (string)e.Data!["text"]!));
        Assert.Equal("error", events[^1].Type);
        Assert.Equal(ProblemTypes.ShuttingDown, (string?)events[^1].Data!["type"]);
        Assert.True(shown.Split(' ').Length > 20, $"the answer kept streaming during the drain: '{shown}'");

        Assert.Equal(0, await service.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        output.WriteLine($"SIGTERM to exit: {clock.Elapsed.TotalSeconds:F1} s (drain 2 s, grace 4 s); {shown.Split(' ').Length} words shown");
        Assert.InRange(clock.Elapsed, TimeSpan.FromSeconds(4), TimeSpan.FromSeconds(20));
        Assert.Equal($"interrupted|shutdown|{shown}", Scalar("SELECT status || '|' || finish_reason || '|' || content FROM messages WHERE role = 'assistant'"));
        Assert.Equal("1", Scalar("SELECT count(*) FROM messages WHERE role = 'user'")); // the refused turn stored nothing
        Assert.DoesNotContain("Unhandled exception", service.Output);
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
        // The shipped help-center may still be indexing in the background: its lines are not the failed call's.
        // The host's own start-up lines may land after the first request on a loaded machine: not the failed call's either.
        var callLines = logged.Where(l => !l.Contains("\"EventId\":4100", StringComparison.Ordinal) && !l.Contains("\"Category\":\"Agentry.Knowledge.", StringComparison.Ordinal)
            && !l.Contains("\"Category\":\"Microsoft.Extensions.Hosting.", StringComparison.Ordinal) && !l.Contains("\"Category\":\"Microsoft.Hosting.", StringComparison.Ordinal)).ToList();
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
