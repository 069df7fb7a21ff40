using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.RegularExpressions;
using OpenTelemetry.Trace;

namespace Agentry.Tests.Observability;

/// <summary>
/// Meters and activity sources are process-wide, so another test's app would add to these numbers and spans:
/// this collection runs alone.
/// </summary>
[CollectionDefinition(nameof(TelemetryTests), DisableParallelization = true)]
public sealed class TelemetryTestGroup;

[Collection(nameof(TelemetryTests))]
public sealed partial class TelemetryTests
{
    static async Task<string> ScrapeAsync(HttpClient client) => await client.GetStringAsync("/metrics");

    static async Task<int> RawPostAsync(Uri baseAddress, string path, string json, params (string Name, string Value)[] headers)
    {
        using var tcp = new System.Net.Sockets.TcpClient();
        await tcp.ConnectAsync(baseAddress.Host, baseAddress.Port);
        await using var stream = tcp.GetStream();
        var body = System.Text.Encoding.UTF8.GetBytes(json);
        var head = $"POST {path} HTTP/1.1\r\nHost: {baseAddress.Authority}\r\nContent-Type: application/json\r\nContent-Length: {body.Length}\r\nConnection: close\r\n" +
                   string.Concat(headers.Select(h => $"{h.Name}: {h.Value}\r\n")) + "\r\n";
        await stream.WriteAsync(System.Text.Encoding.ASCII.GetBytes(head));
        await stream.WriteAsync(body);
        using var reader = new StreamReader(stream);
        var statusLine = await reader.ReadLineAsync() ?? "";
        await reader.ReadToEndAsync();
        return int.Parse(statusLine.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>Sums a Prometheus series' samples whose labels contain all the given label pairs.</summary>
    static double Sum(string exposition, string metric, params string[] labels) =>
        exposition.Split('\n')
            .Where(l => l.StartsWith(metric + "{", StringComparison.Ordinal) || l.StartsWith(metric + " ", StringComparison.Ordinal))
            .Where(l => labels.All(label => l.Contains(label, StringComparison.Ordinal)))
            .Sum(l => double.Parse(l[(l.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture));

    [Fact]
    public async Task Metrics_move_with_a_scripted_conversation()
    {
        await using var openAi = new FakeOpenAiServer();
        await using var app = new AgentryApp(openAi);
        var before = await ScrapeAsync(app.Client);

        // support hands to billing, billing uses the calculator and answers; a card number is redacted by a rule.
        openAi.Enqueue(FakeReply.CallTool("transfer_to_billing", "{\"reason\":\"charges\"}"), FakeReply.CallTool("calculator", "{\"expression\":\"2*49\"}"),
            FakeReply.Say("You were charged 98 in total."));
        await Http.ExpectAsync(await app.Client.PostAsJsonAsync("/v1/chat",
            new { message = "card 4111 1111 1111 1111 was charged twice 49", agentId = "support" }), HttpStatusCode.OK);

        string after = "";
        await Wait.UntilAsync(async () => Sum(after = await ScrapeAsync(app.Client), "agentry_tool_calls_total", "tool=\"calculator\"") >= 1,
            because: "the scrape shows the tool call");
        // SQLite's own memory is a gauge of its own (native, not in the .NET heap's figures); PostgreSQL's is its server's.
        if (TestDatabase.IsPostgres) Assert.DoesNotContain("agentry_sqlite_memory_bytes", after);
        else Assert.True(Sum(after, "agentry_sqlite_memory_bytes") > 100_000, "SQLite's allocator holds at least the schema and a page cache");
        Assert.Equal(1, Sum(after, "agentry_turn_duration_seconds_count", "agent=\"billing\"", "status=\"completed\"") - Sum(before, "agentry_turn_duration_seconds_count", "agent=\"billing\""));
        Assert.Equal(1, Sum(after, "agentry_handoffs_total", "from=\"support\"", "to=\"billing\"", "mode=\"tool\""));
        Assert.Equal(1, Sum(after, "agentry_tool_calls_total", "tool=\"calculator\"", "outcome=\"success\""));
        Assert.Equal(1, Sum(after, "agentry_rule_decisions_total", "rule=\"no-card-numbers\"", "action=\"redact\""));
        Assert.Equal(3 * 11, Sum(after, "agentry_tokens_total", "direction=\"input\""));   // three model calls, 11 input tokens each
        Assert.Equal(3 * 7, Sum(after, "agentry_tokens_total", "direction=\"output\""));
        Assert.True(Sum(after, "gen_ai_client_token_usage_count") >= 3, "Microsoft.Extensions.AI's GenAI metrics are exported");
        Assert.True(Sum(after, "http_server_request_duration_seconds_count", "http_route=\"/v1/chat\"") >= 1);
        Assert.Contains("dotnet_gc_heap_total_allocated_bytes", after);

        // Rate-limit rejections are counted too.
        var (_, secret) = await app.CreateKeyAsync("tiny", ["read"], new { requestsPerMinute = 1 });
        var tiny = app.CreateApiClient(secret);
        await tiny.GetAsync("/v1/agents");
        Assert.Equal(HttpStatusCode.TooManyRequests, (await tiny.GetAsync("/v1/agents")).StatusCode);
        await Wait.UntilAsync(async () => Sum(await ScrapeAsync(app.Client), "agentry_limit_rejections_total", "kind=\"requests-per-minute\"") == 1,
            because: "the rejection is counted");

        // The shipped Grafana dashboard only queries series that really exist.
        using (var stream = await Sse.StartAsync(app.Client, "/v1/chat", new { message = "stream", agentId = "support" })) await Sse.ReadAllAsync(stream);
        var exposition = "";
        // The exporter caches a scrape briefly, so wait for one taken after the stream.
        await Wait.UntilAsync(async () => (exposition = await ScrapeAsync(app.Client)).Contains("\nagentry_sse_active{", StringComparison.Ordinal),
            because: "the stream gauge is exported");
        var dashboard = await File.ReadAllTextAsync(Path.Combine(AppContext.BaseDirectory, "agentry-dashboard.json"));
        var queried = MetricName().Matches(dashboard).Select(m => m.Value).Distinct().ToList();
        Assert.True(queried.Count >= 15, $"only {queried.Count} metrics found in the dashboard");
        var missing = queried.Where(name => !exposition.Contains("\n" + name + "{", StringComparison.Ordinal) && !exposition.Contains("\n" + name + " ", StringComparison.Ordinal)).ToList();
        Assert.True(missing.Count == 0, "dashboard queries series that are not exported: " + string.Join(", ", missing));
    }

    [GeneratedRegex(@"\b(?:agentry|http_server|gen_ai|dotnet)_[a-z_]+(?=\{)")]
    private static partial Regex MetricName();

    [Fact]
    public async Task Metrics_need_an_admin_key_outside_the_allowed_networks()
    {
        await using var app = new AgentryApp(settings: new() { ["Observability:MetricsAllowedNetworks:0"] = "10.99.0.0/16", ["Observability:MetricsAllowedNetworks:1"] = "10.98.0.0/16" });
        Assert.Equal(HttpStatusCode.Unauthorized, (await app.CreateApiClient(null).GetAsync("/metrics")).StatusCode);
        var (_, reader) = await app.CreateKeyAsync("reader", ["read"]);
        Assert.Equal(HttpStatusCode.Forbidden, (await app.CreateApiClient(reader).GetAsync("/metrics")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await app.Client.GetAsync("/metrics")).StatusCode);

        await using var local = new AgentryApp(); // default: this machine may scrape without a key
        var scrape = await local.CreateApiClient(null).GetAsync("/metrics");
        Assert.Equal(HttpStatusCode.OK, scrape.StatusCode);
        Assert.StartsWith("text/plain", scrape.Content.Headers.ContentType?.MediaType);
    }

    /// <summary>The form the docs show and operators write first: one value, as an environment variable or a command-line setting.</summary>
    [Fact]
    public async Task A_list_setting_written_as_one_value_is_a_list_not_ignored()
    {
        var folder = Directory.CreateTempSubdirectory("agentry-metrics-").FullName;
        try
        {
            await using (var service = new AgentryProcess(folder, new() { ["Observability:MetricsAllowedNetworks"] = "none" }))
            {
                var client = await service.StartedAsync(apiKey: null);
                Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync("/metrics")).StatusCode); // not open to this machine any more
            }
            await using var several = new AgentryApp(settings: new() { ["Observability:MetricsAllowedNetworks"] = "10.99.0.0/16, 10.98.0.0/16" });
            Assert.Equal(HttpStatusCode.Unauthorized, (await several.CreateApiClient(null).GetAsync("/metrics")).StatusCode);
            var options = several.Service<Microsoft.Extensions.Options.IOptions<Agentry.Observability.ObservabilityOptions>>().Value;
            Assert.Equal(["10.99.0.0/16", "10.98.0.0/16"], options.MetricsAllowedNetworks!);
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public async Task A_turn_with_a_handoff_and_a_tool_call_is_one_trace_with_nested_spans()
    {
        var spans = new List<Activity>();
        await using var openAi = new FakeOpenAiServer();
        await using var app = new AgentryApp(openAi, services: s => s.ConfigureOpenTelemetryTracerProvider(t => t.AddInMemoryExporter(spans)));
        openAi.Enqueue(FakeReply.CallTool("transfer_to_billing", "{\"reason\":\"charges\"}"), FakeReply.CallTool("calculator", "{\"expression\":\"2*49\"}"),
            FakeReply.Say("98 in total."));

        // Sent over a raw socket: any HttpClient in this process would be traced too and replace the traceparent with its own.
        var status = await RawPostAsync(app.Client.BaseAddress!, "/v1/chat", "{\"message\":\"charged twice 49\",\"agentId\":\"support\"}",
            ("Authorization", $"Bearer {AgentryApp.AdminKey}"), ("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"));
        Assert.Equal(200, status);

        // The request's server span ends last; once it is exported, take a stable copy (the exporter appends from another thread).
        await Wait.UntilAsync(() => spans.ToArray().Any(s => s.Kind == ActivityKind.Server && s.DisplayName == "POST /v1/chat"), because: "the request's spans are exported");
        var all = spans.ToArray();
        var turn = all.Single(s => s.OperationName == "agentry.turn");
        Assert.Equal("0af7651916cd43dd8448eb211c80319c", turn.TraceId.ToString()); // W3C traceparent is honoured
        var server = all.Single(s => s.Kind == ActivityKind.Server && s.TraceId == turn.TraceId && s.DisplayName == "POST /v1/chat");
        Assert.Equal(server.SpanId, turn.ParentSpanId);
        Assert.Equal("billing", turn.GetTagItem("agentry.agent.final"));
        Assert.Contains(turn.Events, e => e.Name == "agentry.handoff");

        var children = all.Where(s => s.ParentSpanId == turn.SpanId).ToList();
        Assert.Equal(3, children.Count(s => s.Source.Name == "Agentry.Models")); // three model calls
        var tool = Assert.Single(children, s => s.OperationName == "agentry.tool calculator");
        Assert.Equal("success", tool.GetTagItem("agentry.tool.outcome"));
        Assert.Contains(all, s => s.Kind == ActivityKind.Client && s.TraceId == turn.TraceId && s.DisplayName.StartsWith("POST", StringComparison.Ordinal)); // the provider call
        Assert.DoesNotContain(all.SelectMany(s => s.Tags), t => t.Value?.Contains("charged twice", StringComparison.Ordinal) == true); // no prompt text by default
    }

    [Fact]
    public async Task Without_a_receiver_only_the_callers_sampled_traces_are_recorded_and_every_response_keeps_its_trace_id()
    {
        var spans = new List<Activity>();
        await using (var app = new AgentryApp(services: s => s.ConfigureOpenTelemetryTracerProvider(t => t.AddInMemoryExporter(spans))))
        {
            // No OTLP endpoint: a plain request is not recorded, yet its problem still names its trace.
            var missing = await Http.ProblemAsync(await app.Client.GetAsync("/v1/conversations/conv_0123456789abcdef0123456789abcdef"), 404,
                Agentry.Api.ProblemTypes.ConversationNotFound);
            Assert.Matches("^[0-9a-f]{32}$", (string)missing["traceId"]!);
            await Http.JsonAsync(await app.Client.PostAsJsonAsync("/v1/chat", new { message = "hello", agentId = "sales" }));

            // A caller that samples its trace gets it recorded, and only that trace is.
            var status = await RawPostAsync(app.Client.BaseAddress!, "/v1/chat", "{\"message\":\"hello\",\"agentId\":\"sales\"}",
                ("Authorization", $"Bearer {AgentryApp.AdminKey}"), ("traceparent", "00-1af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"));
            Assert.Equal(200, status);
            await Wait.UntilAsync(() => spans.ToArray().Any(s => s.Kind == ActivityKind.Server && s.DisplayName == "POST /v1/chat"), because: "the sampled request's spans are exported");
            var recorded = spans.ToArray();
            Assert.Contains(recorded, s => s.OperationName == "agentry.turn");
            Assert.All(recorded, s => Assert.Equal("1af7651916cd43dd8448eb211c80319c", s.TraceId.ToString()));
        }

        spans.Clear();
        await using var everything = new AgentryApp(settings: new() { ["Observability:TraceSampleRatio"] = "1" },
            services: s => s.ConfigureOpenTelemetryTracerProvider(t => t.AddInMemoryExporter(spans)));
        await Http.JsonAsync(await everything.Client.PostAsJsonAsync("/v1/chat", new { message = "hello", agentId = "sales" }));
        await Wait.UntilAsync(() => spans.ToArray().Any(s => s.OperationName == "agentry.turn"), because: "with a ratio of 1 every turn is recorded");
    }

    [Fact]
    public async Task Tool_durations_use_second_scale_buckets_and_a_tool_run_after_approval_is_counted()
    {
        await using var app = new AgentryApp();
        var before = await ScrapeAsync(app.Client);
        var held = await Http.JsonAsync(await app.Client.PostAsJsonAsync("/v1/chat",
            new { message = "/tool refund {\"amount\": 250, \"reason\": \"double charge\"}", agentId = "billing" }));
        Assert.Equal("pending_approval", (string?)held["status"]);
        await Http.ExpectAsync(await app.Client.PostAsJsonAsync($"/v1/admin/approvals/{held["pendingApprovalId"]}/approve", new { note = "ok" }), HttpStatusCode.OK);

        string after = "";
        await Wait.UntilAsync(async () => Sum(after = await ScrapeAsync(app.Client), "agentry_tool_calls_total", "tool=\"refund\"", "outcome=\"success\"") >
            Sum(before, "agentry_tool_calls_total", "tool=\"refund\"", "outcome=\"success\""), because: "the approved refund is counted");
        Assert.Contains(after.Split('\n'), l => l.StartsWith("agentry_tool_duration_seconds_bucket{", StringComparison.Ordinal) && l.Contains("le=\"0.005\"", StringComparison.Ordinal));
        Assert.DoesNotContain(after.Split('\n'), l => l.StartsWith("agentry_tool_duration_seconds_bucket{", StringComparison.Ordinal) && l.Contains("le=\"5000\"", StringComparison.Ordinal));
    }
}
