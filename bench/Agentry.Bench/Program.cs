using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Agentry.Bench;

// One command, one table: the fake upstream measured directly (the baseline), Agentry in its production configuration
// in front of it, and the Portkey gateway as a peer, all in the same run on the same machine. See docs/performance.md.
//   dotnet run -c Release --project bench/Agentry.Bench -- [--duration 20] [--connections 32] [--published DIR]
//       [--database-url postgres://…] [--no-portkey] [--rates 100,200,500] [--targets direct,agentry,existing,streaming,history,streams,portkey] [--streams 2000]
//       [--targets openai]   (the same turn through /v1/chat/completions and /v1/chat)
//       [--targets memory --memory-users 100]   (opt-in: writes 10,000 memories per user with vectors, 1.5 GB for 100 users)
//       [--targets knowledge --knowledge-documents 1000]   (opt-in: a knowledge base of 100 generated passages per document, with vectors)
//   Soak: … -- --soak 600 [--soak-rate 200] [--soak-csv docs/soak.csv]   (exit code 1 when a soak limit is broken)
//   [--data-dir DIR] starts Agentry on an existing data folder (the database a long soak left) instead of a new one
//   [--server-env NAME=VALUE]… an environment variable for the Agentry process only (a runtime setting to compare), repeatable
var options = Options.Parse(args);
var repository = FindRepository();
Console.Error.WriteLine($"Agentry benchmark: {options.Duration.TotalSeconds:0} s per run, {options.Connections} connections, {Environment.ProcessorCount} cores");

await using var upstream = await FakeUpstream.StartAsync(options.UpstreamLatency, streamChunks: 8, chunkDelay: TimeSpan.Zero);
var published = options.Published ?? await PublishAsync(repository);
var work = Directory.CreateTempSubdirectory("agentry-bench-").FullName;
const string adminKey = "bench-admin-key-0123456789abcdefghij";

var agentryPort = ServerProcess.FreePort();
var agentryEnvironment = new Dictionary<string, string>
{
    ["ASPNETCORE_ENVIRONMENT"] = "Production",
    ["ASPNETCORE_URLS"] = $"http://127.0.0.1:{agentryPort}",
    ["AGENTRY_DATA_DIR"] = options.DataDirectory ?? Path.Combine(work, "data"),
    ["AGENTRY_ADMIN_KEY"] = adminKey,
    ["OPENAI_API_KEY"] = "sk-bench",
    ["OPENAI_BASE_URL"] = upstream.BaseUrl,
    ["OPENAI_MODEL"] = "gpt-4o-mini",
    // Limits on, set high: the benchmark measures the path every request takes, not a refusal.
    ["RateLimit__PermitsPerMinute"] = "10000000",
    ["RateLimit__ConcurrentRequests"] = "100000",
    ["RateLimit__TokensPerMinute"] = "",
    ["RateLimit__TokensPerDay"] = "",
    ["Backup__Scheduled"] = "false",
    ["LOG_LEVEL"] = "warning",
};
if (options.DatabaseUrl is { } databaseUrl) agentryEnvironment["DATABASE_URL"] = databaseUrl;
foreach (var (name, value) in options.ServerEnvironment) agentryEnvironment[name] = value;

var rows = new List<(LoadResult Result, double Rss, double PeakRss, double? AddedP50, double? AddedP99, double? AllocatedKb)>();
using var client = Load.NewClient();

if (options.SoakSeconds > 0)
{
    await using var soaked = await ServerProcess.StartAsync("agentry", "dotnet", [Path.Combine(published, "agentry.dll"), "serve"], published,
        agentryEnvironment, $"http://127.0.0.1:{agentryPort}", "/health/ready");
    RequestFactory turn = (_, _) => Post(soaked.BaseUrl + "/v1/chat", """{"message":"Hi, I was charged twice this month","agentId":"support"}""", adminKey);
    return await Soak.RunAsync(client, soaked, turn, options.SoakRate, TimeSpan.FromSeconds(options.SoakSeconds), options.SoakCsv);
}

// Baseline: the upstream itself.
var upstreamBody = """{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hi, I was charged twice this month"}]}""";
RequestFactory direct = (_, _) => Post(upstream.BaseUrl + "/chat/completions", upstreamBody);
var directSerial = options.Has("direct") ? await MeasureAsync("direct to the fake upstream", direct, null) : null;

// Agentry: a new conversation per turn, and many existing conversations in turn.
if (options.Has("agentry"))
    await using (var agentry = await ServerProcess.StartAsync("agentry", "dotnet", [Path.Combine(published, "agentry.dll"), "serve"], published,
        agentryEnvironment, $"http://127.0.0.1:{agentryPort}", "/health/ready"))
    {
        var chat = agentry.BaseUrl + "/v1/chat";
        RequestFactory newConversation = (_, _) => Post(chat, """{"message":"Hi, I was charged twice this month","agentId":"support"}""", adminKey);
        await MeasureAsync("Agentry /v1/chat, new conversation per turn", newConversation, agentry, directSerial);

        var conversations = new List<string>();
        for (var i = 0; i < 256; i++)
        {
            using var created = await client.SendAsync(Post(agentry.BaseUrl + "/v1/conversations", """{"agentId":"support"}""", adminKey));
            conversations.Add(JsonDocument.Parse(await created.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetString()!);
        }
        // Each worker owns its own conversations (one turn at a time per conversation is the service's rule).
        RequestFactory existing = (index, worker) =>
        {
            var owned = conversations.Where((_, c) => c % options.Connections == worker % options.Connections).ToList();
            var id = owned.Count > 0 ? owned[(int)(index % owned.Count)] : conversations[(int)(index % conversations.Count)];
            return Post($"{agentry.BaseUrl}/v1/conversations/{id}/messages", """{"content":"And what about next month?"}""", adminKey);
        };
        if (options.Has("existing")) await MeasureAsync("Agentry, 256 existing conversations in turn", existing, agentry, directSerial, fixedRates: false);
    }

// The OpenAI-compatible door: the same turn through /v1/chat/completions and through /v1/chat, alternately in one instance.
if (options.Has("openai"))
    await using (var agentry = await ServerProcess.StartAsync("agentry", "dotnet", [Path.Combine(published, "agentry.dll"), "serve"], published,
        agentryEnvironment, $"http://127.0.0.1:{agentryPort}", "/health/ready"))
    {
        RequestFactory native = (_, _) => Post(agentry.BaseUrl + "/v1/chat", """{"message":"Hi, I was charged twice this month","agentId":"support"}""", adminKey);
        RequestFactory compatible = (_, _) => Post(agentry.BaseUrl + "/v1/chat/completions",
            """{"model":"support","messages":[{"role":"user","content":"Hi, I was charged twice this month"}]}""", adminKey);
        // Each measured twice in turn, the second pair reported: the first pass also absorbs what a new instance still
        // does in the background (the shipped knowledge base's indexing, the JIT), which would favour whichever runs last.
        LoadResult nativeResult = null!, compatibleResult = null!;
        for (var pass = 0; pass < 2; pass++)
        {
            nativeResult = await Load.SerialAsync(client, "Agentry /v1/chat (same turn as below)", native, options.SerialCalls);
            compatibleResult = await Load.SerialAsync(client, "Agentry /v1/chat/completions", compatible, options.SerialCalls);
        }
        var (rss, peak) = agentry.Memory();
        rows.Add((nativeResult, rss, peak, null, null, null));
        // Added over /v1/chat: what the OpenAI shapes cost.
        rows.Add((compatibleResult, rss, peak, compatibleResult.P50 - nativeResult.P50, compatibleResult.P99 - nativeResult.P99, null));
    }

// Streaming (time to first token against the upstream's own) and history length (a turn in a 10,000-message
// conversation against one in a 10-message conversation): one more instance, its conversations imported before start.
if (options.Has("streaming") || options.Has("history"))
{
    var folder = Directory.CreateDirectory(Path.Combine(work, "history")).FullName;
    var environment = new Dictionary<string, string>(agentryEnvironment) { ["AGENTRY_DATA_DIR"] = Path.Combine(folder, "data") };
    if (options.DatabaseUrl is null)
    {
        var (export, ids) = Scenarios.WriteHistoryExport(folder, 10, 10_000);
        await RunAsync("dotnet", [Path.Combine(published, "agentry.dll"), "import", "user", export], published, environment);
        await using var agentry = await ServerProcess.StartAsync("agentry", "dotnet", [Path.Combine(published, "agentry.dll"), "serve"], published,
            environment, $"http://127.0.0.1:{agentryPort}", "/health/ready");
        if (options.Has("streaming"))
        {
            var streamedUpstream = upstreamBody.Replace("{\"model\"", "{\"stream\":true,\"model\"", StringComparison.Ordinal);
            Func<HttpRequestMessage> directStream = () => Post(upstream.BaseUrl + "/chat/completions", streamedUpstream);
            Func<HttpRequestMessage> agentryStream = () => Post(agentry.BaseUrl + "/v1/chat", """{"message":"Hi, I was charged twice this month","agentId":"support","stream":true}""", adminKey);
            await Scenarios.TimeToFirstTokenAsync(client, "warm-up", agentryStream, "event: message.delta", 200);
            var directFirst = await Scenarios.TimeToFirstTokenAsync(client, "direct to the fake upstream", directStream, "\"content\":\"", options.SerialCalls);
            rows.Add((directFirst, 0, 0, null, null, null));
            var agentryFirst = await Scenarios.TimeToFirstTokenAsync(client, "Agentry /v1/chat, stream: true", agentryStream, "event: message.delta", options.SerialCalls);
            var (rss, peak) = agentry.Memory();
            rows.Add((agentryFirst, rss, peak, agentryFirst.P50 - directFirst.P50, agentryFirst.P99 - directFirst.P99, null));
        }
        if (options.Has("history"))
        {
            LoadResult? shortHistory = null;
            foreach (var (id, length) in ids.Zip([10, 10_000]))
            {
                RequestFactory turn = (_, _) => Post($"{agentry.BaseUrl}/v1/conversations/{id}/messages", """{"content":"And what about next month?"}""", adminKey);
                await Load.SerialAsync(client, "warm-up", turn, 50);
                var result = await Load.SerialAsync(client, $"Agentry, turn in a {length:N0}-message conversation", turn, Math.Min(options.SerialCalls, 500));
                var (rss, peak) = agentry.Memory();
                // Added over the short conversation's turn: what a long history costs.
                rows.Add((result, rss, peak, shortHistory is null ? null : result.P50 - shortHistory.P50, shortHistory is null ? null : result.P99 - shortHistory.P99, null));
                shortHistory ??= result;
            }
        }
    }
    else Console.Error.WriteLine("streaming/history rows: SQLite only (the import is per data folder)");
}

// Long-term memory at scale (only with --targets …,memory): a user with 10,000 memories among --memory-users × 10,000, each
// with its vector, recalled for a turn of an agent with memory: cold (the first turn of a user loads their memories) and
// warm (in process), against the same turn of a user with none.
if (options.Has("memory"))
{
    if (options.DatabaseUrl is not null) Console.Error.WriteLine("memory rows: SQLite only (the rows are written into the SQLite file)");
    else
    {
        await using var agentry = await StartOnFilledDatabaseAsync("memory", $"{options.MemoryUsers * 10_000:N0} memories with their vectors",
            database => MemoryRecall.Fill(database, options.MemoryUsers, 10_000));
        await AdminAsync(HttpMethod.Put, agentry.BaseUrl + "/v1/agents/memo", """{"name":"Memo","instructions":"Help the user.","memory":"shared"}""");
        RequestFactory For(Func<long, string> user) => (index, _) =>
            Post(agentry.BaseUrl + "/v1/chat", $$"""{"message":"Which option do I prefer for topic 42?","agentId":"memo","userId":"{{user(index)}}"}""", adminKey);
        await Load.SerialAsync(client, "warm-up", For(_ => "nobody"), 200);
        var none = await Load.SerialAsync(client, "Agentry, memory on, a user with no memories", For(_ => "nobody"), Math.Min(options.SerialCalls, 1000));
        rows.Add((none, agentry.Memory().Rss, agentry.Memory().PeakRss, null, null, null));
        var cold = await Load.SerialAsync(client, $"… first turn of a user with 10,000 memories (of {options.MemoryUsers * 10_000:N0}): loaded", For(i => MemoryRecall.User((int)(i % options.MemoryUsers))),
            Math.Min(options.MemoryUsers, 100));
        rows.Add((cold, agentry.Memory().Rss, agentry.Memory().PeakRss, cold.P50 - none.P50, cold.P99 - none.P99, null));
        await Load.SerialAsync(client, "warm-up", For(_ => MemoryRecall.User(0)), 50);
        var warm = await Load.SerialAsync(client, "… next turns of that user: recalled in process", For(_ => MemoryRecall.User(0)), Math.Min(options.SerialCalls, 1000));
        rows.Add((warm, agentry.Memory().Rss, agentry.Memory().PeakRss, warm.P50 - none.P50, warm.P99 - none.P99, null));
    }
}

// Knowledge at scale (only with --targets …,knowledge): the same turn of an agent without knowledge and memory, and of one
// with both, answering from a knowledge base of --knowledge-documents × 100 passages (top 5 of 100,000 by default).
if (options.Has("knowledge"))
{
    if (options.DatabaseUrl is not null) Console.Error.WriteLine("knowledge rows: SQLite only (the rows are written into the SQLite file)");
    else
    {
        await using var agentry = await StartOnFilledDatabaseAsync("knowledge", $"{options.KnowledgeDocuments * 100:N0} passages with their vectors",
            database => KnowledgeAtScale.Fill(database, options.KnowledgeDocuments));
        await AdminAsync(HttpMethod.Put, agentry.BaseUrl + "/v1/agents/plain", """{"name":"Plain","instructions":"Help the user."}""");
        await AdminAsync(HttpMethod.Put, agentry.BaseUrl + "/v1/agents/librarian", $$"""{"name":"Librarian","instructions":"Help the user.","memory":"shared","knowledge":["{{KnowledgeAtScale.KnowledgeBase}}"]}""");
        await AdminAsync(HttpMethod.Put, agentry.BaseUrl + "/v1/agents/reader", $$"""{"name":"Reader","instructions":"Help the user.","knowledge":["{{KnowledgeAtScale.KnowledgeBase}}"]}""");
        await AdminAsync(HttpMethod.Put, agentry.BaseUrl + "/v1/agents/memo", """{"name":"Memo","instructions":"Help the user.","memory":"shared"}""");
        await AdminAsync(HttpMethod.Post, $"{agentry.BaseUrl}/v1/knowledge/{KnowledgeAtScale.KnowledgeBase}/documents",
            JsonSerializer.Serialize(new { name = "router.md", text = KnowledgeAtScale.Answer }));
        while (true) // until the uploaded document is indexed (its vectors from the model)
        {
            using var bases = JsonDocument.Parse(await AdminAsync(HttpMethod.Get, agentry.BaseUrl + "/v1/knowledge"));
            if (bases.RootElement.GetProperty("data").EnumerateArray().Any(b => b.GetProperty("name").GetString() == KnowledgeAtScale.KnowledgeBase && b.GetProperty("queued").GetInt32() == 0)) break;
            await Task.Delay(200);
        }
        RequestFactory Turn(string agent, Func<long, string> message) => (index, _) =>
            Post(agentry.BaseUrl + "/v1/chat", JsonSerializer.Serialize(new { message = message(index), agentId = agent, userId = "bench-user" }), adminKey);
        // The first turn loads the knowledge base into the process (and the embedding model): waited for, not measured.
        var loading = System.Diagnostics.Stopwatch.StartNew();
        await Load.SerialAsync(client, "warm-up", Turn("librarian", _ => KnowledgeAtScale.Question), 1);
        Console.Error.WriteLine($"first knowledge turn (loads {options.KnowledgeDocuments * 100:N0} passages): {loading.Elapsed.TotalMilliseconds:0} ms");
        // The plain turn, knowledge alone, memory alone and both, one request of each in turn: measured side by side,
        // so the 100,000-passage load's garbage (or any other passing state) weighs on all of them alike.
        var agents = new[]
        {
            ("plain", "Agentry, agent without knowledge or memory"), ("reader", "… knowledge only"), ("memo", "… memory only"),
            ("librarian", $"… with knowledge (top 5 of {options.KnowledgeDocuments * 100:N0} passages) and memory, one question"),
        };
        foreach (var (agent, _) in agents) await Load.SerialAsync(client, "warm-up", Turn(agent, _ => KnowledgeAtScale.Question), 200);
        var side = await Load.InterleavedAsync(client, agents.Select(a => (a.Item2, Turn(a.Item1, _ => KnowledgeAtScale.Question))).ToList(), Math.Min(options.SerialCalls, 1000));
        var plain = side[0];
        foreach (var part in side)
            rows.Add((part, agentry.Memory().Rss, agentry.Memory().PeakRss, part == plain ? null : part.P50 - plain.P50, part == plain ? null : part.P99 - plain.P99, null));
        // A new question each turn: its embedding is computed by the local model, not found in the cache.
        var fresh = await Load.SerialAsync(client, "… the same, a different question each turn",
            Turn("librarian", i => $"{KnowledgeAtScale.Question} (case {i})"), Math.Min(options.SerialCalls, 500));
        rows.Add((fresh, agentry.Memory().Rss, agentry.Memory().PeakRss, fresh.P50 - plain.P50, fresh.P99 - plain.P99, null));
    }
}

// Many streams open at once: an upstream that trickles its answer (8 chunks, 0.5 s apart), 2,000 streaming turns.
if (options.Has("streams"))
{
    await using var slow = await FakeUpstream.StartAsync(TimeSpan.Zero, streamChunks: 8, chunkDelay: TimeSpan.FromMilliseconds(500));
    var environment = new Dictionary<string, string>(agentryEnvironment)
    {
        ["AGENTRY_DATA_DIR"] = Path.Combine(work, "streams"),
        ["OPENAI_BASE_URL"] = slow.BaseUrl,
    };
    await using var agentry = await ServerProcess.StartAsync("agentry", "dotnet", [Path.Combine(published, "agentry.dll"), "serve"], published,
        environment, $"http://127.0.0.1:{agentryPort}", "/health/ready");
    Func<HttpRequestMessage> stream = () => Post(agentry.BaseUrl + "/v1/chat", """{"message":"Hi, I was charged twice this month","agentId":"support","stream":true}""", adminKey);
    await Scenarios.OpenStreamsAsync(client, agentry, stream, 50);
    var (result, peak) = await Scenarios.OpenStreamsAsync(client, agentry, stream, options.Streams);
    rows.Add((result with { Target = "Agentry /v1/chat, stream: true, upstream trickling 4 s" }, agentry.Memory().Rss, peak, null, null, null));
}

// Peer: the Portkey AI gateway (persists nothing) in front of the same upstream.
if (options.Has("portkey"))
{
    try
    {
        var gateway = await InstallPortkeyAsync(work);
        var port = ServerProcess.FreePort();
        await using var portkey = await ServerProcess.StartAsync("portkey", "node", [gateway, $"--port={port}", "--headless"], work,
            new Dictionary<string, string> { ["NODE_ENV"] = "production" }, $"http://127.0.0.1:{port}", "/");
        RequestFactory viaPortkey = (_, _) =>
        {
            var request = Post(portkey.BaseUrl + "/v1/chat/completions", upstreamBody, "sk-bench");
            request.Headers.Add("x-portkey-provider", "openai");
            request.Headers.Add("x-portkey-custom-host", upstream.BaseUrl);
            return request;
        };
        await MeasureAsync("Portkey AI gateway (persists nothing)", viaPortkey, portkey, directSerial);
    }
    catch (Exception e) when (e is InvalidOperationException or TimeoutException or IOException)
    {
        Console.Error.WriteLine($"Portkey row skipped: {e.Message}");
    }
}

Console.WriteLine();
Console.WriteLine($"| system | mode | req/s | p50 / p95 / p99 / max ms | added p50 / p99 ms | errors | per-second σ | RSS / peak MB | KB allocated per turn |");
Console.WriteLine("|---|---|---|---|---|---|---|---|---|");
foreach (var (r, rss, peak, addedP50, addedP99, allocatedKb) in rows)
{
    var added = addedP50 is null ? "—" : $"{addedP50:+0.00;-0.00} / {addedP99:+0.00;-0.00}";
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"| {r.Target} | {r.Mode} | {r.PerSecond:0} | {r.P50:0.00} / {r.P95:0.00} / {r.P99:0.00} / {r.Max:0.0} | {added} | {r.Errors}{(r.FirstError is null ? "" : $" ({r.FirstError})")} | {(r.Mode.StartsWith("serial", StringComparison.Ordinal) ? "—" : $"{r.PerSecondStdDevPercent:0}%")} | {(rss == 0 ? "—" : $"{rss:0} / {peak:0}")} | {(allocatedKb is null ? "—" : $"{allocatedKb:0}")} |"));
}
try { Directory.Delete(work, recursive: true); } catch (IOException) { }
return 0;

async Task<LoadResult> MeasureAsync(string name, RequestFactory make, ServerProcess? server, LoadResult? baselineSerial = null, bool fixedRates = true)
{
    Console.Error.WriteLine($"{name}: warm-up");
    await Load.ClosedLoopAsync(client, name, make, options.Connections, TimeSpan.FromSeconds(Math.Min(5, options.Duration.TotalSeconds)));
    var allocatedBefore = await AllocatedBytesAsync(server);
    var serial = await Load.SerialAsync(client, name, make, options.SerialCalls);
    var allocatedAfter = await AllocatedBytesAsync(server);
    Record(serial, baselineSerial, allocatedAfter - allocatedBefore is { } allocated ? allocated / 1024 / options.SerialCalls : null);
    Console.Error.WriteLine($"{name}: saturation");
    Record(await Load.ClosedLoopAsync(client, name, make, options.Connections, options.Duration), null);
    if (fixedRates)
    {
        foreach (var rate in options.Rates)
        {
            Console.Error.WriteLine($"{name}: {rate} req/s");
            Record(await Load.FixedRateAsync(client, name, make, rate, burst: 16, options.Duration), null);
        }
    }
    return serial;

    void Record(LoadResult result, LoadResult? baseline, double? allocatedKb = null)
    {
        var (rss, peak) = server?.Memory() ?? (0, 0);
        rows.Add((result, rss, peak, baseline is null ? null : result.P50 - baseline.P50, baseline is null ? null : result.P99 - baseline.P99, allocatedKb));
    }
}

// Bytes the .NET runtime allocated so far in an Agentry process (its /metrics, System.Runtime's counter); null for other targets.
async Task<double?> AllocatedBytesAsync(ServerProcess? server)
{
    if (server?.Name != "agentry") return null;
    using var request = Request(HttpMethod.Get, server.BaseUrl + "/metrics", null, adminKey);
    using var response = await client.SendAsync(request);
    if (!response.IsSuccessStatusCode) return null;
    var lines = (await response.Content.ReadAsStringAsync()).Split('\n');
    var values = lines.Where(l => l.StartsWith("dotnet_gc_heap_total_allocated_bytes_total", StringComparison.Ordinal))
        .Select(l => double.Parse(l.Split(' ')[1], CultureInfo.InvariantCulture)).ToList();
    return values.Count > 0 ? values.Sum() : null;
}

// A migrated SQLite database filled with rows written straight into it (a million rows take a minute, not a million API
// calls), and the service started on it.
async Task<ServerProcess> StartOnFilledDatabaseAsync(string name, string rows, Action<string> fill)
{
    var folder = Directory.CreateDirectory(Path.Combine(work, name)).FullName;
    var environment = new Dictionary<string, string>(agentryEnvironment) { ["AGENTRY_DATA_DIR"] = Path.Combine(folder, "data") };
    await RunAsync("dotnet", [Path.Combine(published, "agentry.dll"), "migrate"], published, environment);
    Console.Error.WriteLine($"Writing {rows}");
    fill(Path.Combine(folder, "data", "agentry.db"));
    return await ServerProcess.StartAsync("agentry", "dotnet", [Path.Combine(published, "agentry.dll"), "serve"], published,
        environment, $"http://127.0.0.1:{agentryPort}", "/health/ready");
}

static HttpRequestMessage Post(string url, string json, string? key = null) => Request(HttpMethod.Post, url, json, key);

static HttpRequestMessage Request(HttpMethod method, string url, string? json, string? key)
{
    var request = new HttpRequestMessage(method, url) { Content = json is null ? null : new StringContent(json, Encoding.UTF8, "application/json") };
    if (key is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
    return request;
}

// A call the benchmark makes before it measures (an agent, a document, a listing), as the admin: it fails loudly.
async Task<string> AdminAsync(HttpMethod method, string url, string? json = null)
{
    using var request = Request(method, url, json, adminKey);
    using var response = await client.SendAsync(request);
    var body = await response.Content.ReadAsStringAsync();
    return response.IsSuccessStatusCode ? body : throw new InvalidOperationException($"{method} {url}: {(int)response.StatusCode} {body}");
}

static async Task<string> PublishAsync(string repository)
{
    var folder = Directory.CreateTempSubdirectory("agentry-bench-app-").FullName;
    Console.Error.WriteLine($"Publishing Agentry to {folder}");
    await RunAsync("dotnet", ["publish", Path.Combine(repository, "src", "Agentry", "Agentry.csproj"), "-c", "Release", "-r", "linux-x64", "--self-contained", "false", "-o", folder, "-nologo", "-v:q", "-p:UseAppHost=false"], repository);
    return folder;
}

static async Task<string> InstallPortkeyAsync(string work)
{
    var folder = Path.Combine(work, "portkey");
    Directory.CreateDirectory(folder);
    Console.Error.WriteLine("Installing @portkey-ai/gateway from npm");
    await RunAsync("npm", ["install", "--no-audit", "--no-fund", "--silent", "@portkey-ai/gateway@1.15.2"], folder);
    return Path.Combine(folder, "node_modules", "@portkey-ai", "gateway", "build", "start-server.js");
}

static async Task RunAsync(string program, string[] arguments, string folder, IDictionary<string, string>? environment = null)
{
    var start = new System.Diagnostics.ProcessStartInfo(program) { WorkingDirectory = folder, RedirectStandardOutput = true, RedirectStandardError = true };
    foreach (var argument in arguments) start.ArgumentList.Add(argument);
    foreach (var (key, value) in environment ?? new Dictionary<string, string>()) start.Environment[key] = value;
    using var process = System.Diagnostics.Process.Start(start)!;
    var output = process.StandardOutput.ReadToEndAsync();
    var errors = process.StandardError.ReadToEndAsync();
    await process.WaitForExitAsync();
    if (process.ExitCode != 0) throw new InvalidOperationException($"{program} {string.Join(' ', arguments)} failed: {await output}{await errors}");
}

static string FindRepository()
{
    for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
        if (File.Exists(Path.Combine(folder.FullName, "Agentry.slnx"))) return folder.FullName;
    return Directory.GetCurrentDirectory();
}

sealed record Options(TimeSpan Duration, int Connections, int SerialCalls, int[] Rates, string? Published, string? DatabaseUrl, string[] Targets, TimeSpan UpstreamLatency)
{
    public int SoakSeconds { get; init; }
    /// <summary>An existing data folder to start Agentry on (e.g. the database a long soak left behind), instead of a new one.</summary>
    public string? DataDirectory { get; init; }
    public int SoakRate { get; init; } = 200;
    public string? SoakCsv { get; init; }
    public int Streams { get; init; } = 2000;
    public int MemoryUsers { get; init; } = 100;
    public int KnowledgeDocuments { get; init; } = 1000;
    /// <summary>Variables set for the Agentry process only, not the load generator (<c>--server-env NAME=VALUE</c>, repeatable).</summary>
    public IReadOnlyList<(string Name, string Value)> ServerEnvironment { get; init; } = [];

    public bool Has(string target) => Targets.Contains(target);

    public static Options Parse(string[] args)
    {
        string? Value(string name) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault();
        int Int(string name, int fallback) => Value(name) is { } v ? int.Parse(v, CultureInfo.InvariantCulture) : fallback;
        return new Options(
            TimeSpan.FromSeconds(Int("--duration", 20)), Int("--connections", 32), Int("--serial", 2000),
            (Value("--rates") ?? "100,200,500").Split(',').Select(r => int.Parse(r, CultureInfo.InvariantCulture)).ToArray(),
            Value("--published"), Value("--database-url"),
            (Value("--targets") ?? "direct,agentry,existing,streaming,history,streams,portkey").Split(',').Where(t => !(t == "portkey" && args.Contains("--no-portkey"))).ToArray(),
            TimeSpan.FromMilliseconds(Int("--upstream-latency-ms", 0)))
        {
            SoakSeconds = Int("--soak", 0), SoakRate = Int("--soak-rate", 200), SoakCsv = Value("--soak-csv"), Streams = Int("--streams", 2000), MemoryUsers = Int("--memory-users", 100),
            KnowledgeDocuments = Int("--knowledge-documents", 1000), DataDirectory = Value("--data-dir"),
            ServerEnvironment = args.Zip(args.Skip(1)).Where(p => p.First == "--server-env").Select(p => p.Second.Split('=', 2)).Select(p => (p[0], p.ElementAtOrDefault(1) ?? "")).ToList(),
        };
    }
}
