using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Agentry.Api;
using Agentry.Audit;
using Agentry.Data;
using Agentry.Operations;
using Agentry.Security;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace Agentry.Observability;

public sealed class AlertRule
{
    public string Name { get; set; } = "";
    /// <summary>One of <see cref="ResourceSample"/>'s figures: cpuPercent, workingSetMb, gcHeapMb, threadPoolQueue, sseStreams, databaseMb, freeDiskMb, upstreamErrorPercent, p95LatencyMs, auditWriteFailures, backupAgeHours, mcpToolChangesHeld.</summary>
    public string Metric { get; set; } = "";
    public double? Above { get; set; }
    public double? Below { get; set; }
    /// <summary>Consecutive breaching samples before the alert is raised.</summary>
    public int RaiseAfter { get; set; } = 3;
    /// <summary>Consecutive healthy samples before it clears.</summary>
    public int ClearAfter { get; set; } = 3;
}

public sealed class MonitoringOptions
{
    public const string Section = "Monitoring";

    public TimeSpan SampleInterval { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>Alert thresholds. Unset: the defaults below; set to replace them.</summary>
    public List<AlertRule>? Alerts { get; set; }

    /// <summary>POST raised/cleared alerts here (JSON), signed with <see cref="WebhookSecret"/>.</summary>
    public string? WebhookUrl { get; set; }

    /// <summary>HMAC-SHA256 key for the X-Agentry-Signature header of webhook calls.</summary>
    public string? WebhookSecret { get; set; }

    public IReadOnlyList<AlertRule> EffectiveAlerts => Alerts ??
    [
        new() { Name = "high-cpu", Metric = "cpuPercent", Above = 90 },
        new() { Name = "high-memory", Metric = "workingSetMb", Above = 4096 },
        new() { Name = "thread-pool-starvation", Metric = "threadPoolQueue", Above = 1000 },
        new() { Name = "low-disk", Metric = "freeDiskMb", Below = 1024 },
        new() { Name = "upstream-errors", Metric = "upstreamErrorPercent", Above = 20 },
        new() { Name = "slow-turns", Metric = "p95LatencyMs", Above = 15000 },
        new() { Name = "audit-write-failing", Metric = "auditWriteFailures", Above = 0, RaiseAfter = 1 },
        // Daily backups by default: two missed (or unverified) in a row.
        new() { Name = "backup-stale", Metric = "backupAgeHours", Above = 50, RaiseAfter = 1 },
        // An MCP server's tools changed since an admin accepted them: held until approved, and someone should look.
        new() { Name = "mcp-tools-changed", Metric = "mcpToolChangesHeld", Above = 0, RaiseAfter = 1, ClearAfter = 1 },
    ];
}

/// <summary>One reading of the machine and the service.</summary>
public sealed record ResourceSample(
    DateTimeOffset At, double CpuPercent, double WorkingSetMb, double GcHeapMb, long ThreadPoolQueue, long SseStreams, double DatabaseMb, double FreeDiskMb,
    double UpstreamErrorPercent, double? P95LatencyMs, long AuditWriteFailures, double? BackupAgeHours, int McpToolChangesHeld)
{
    public double? Get(string metric) => metric switch
    {
        "cpuPercent" => CpuPercent,
        "workingSetMb" => WorkingSetMb,
        "gcHeapMb" => GcHeapMb,
        "threadPoolQueue" => ThreadPoolQueue,
        "sseStreams" => SseStreams,
        "databaseMb" => DatabaseMb,
        "freeDiskMb" => FreeDiskMb,
        "upstreamErrorPercent" => UpstreamErrorPercent,
        "p95LatencyMs" => P95LatencyMs,
        "auditWriteFailures" => AuditWriteFailures,
        "backupAgeHours" => BackupAgeHours,
        "mcpToolChangesHeld" => McpToolChangesHeld,
        _ => null,
    };

    public static readonly string[] Metrics = ["cpuPercent", "workingSetMb", "gcHeapMb", "threadPoolQueue", "sseStreams", "databaseMb", "freeDiskMb", "upstreamErrorPercent", "p95LatencyMs", "auditWriteFailures", "backupAgeHours", "mcpToolChangesHeld"];
}

public sealed record AlertState(string Name, string Metric, string State, double? Value, double Threshold, string Direction, DateTimeOffset Since);

/// <summary>
/// Samples resources on a timer and raises or clears alerts with hysteresis (N breaching samples to raise, M healthy
/// ones to clear). Each change is logged, audited, exported as the <c>agentry.alerts.active</c> gauge, listed at
/// <c>/system/health</c>, and POSTed to the webhook when one is configured.
/// </summary>
public sealed partial class SystemMonitor(
    IOptions<MonitoringOptions> options, IOptions<DataOptions> data, IHostEnvironment environment, AgentryTelemetry telemetry, AuditLog audit,
    SharedAlerts alerts, Operations.Backups.Backups backups, IOptions<Operations.Backups.BackupOptions> backupOptions, Mcp.McpServers mcp, IHttpClientFactory http,
    TimeProvider time, ILogger<SystemMonitor> logger) : BackgroundService, ITurnOutcomeListener
{
    /// <summary>The API's JSON (timestamps as 2026-12-06T05:00:00.000Z): a receiver parses one format, whichever door it came from.</summary>
    static readonly JsonSerializerOptions WebhookJson = CreateWebhookJson();

    readonly DateTimeOffset _started = time.GetUtcNow();

    static JsonSerializerOptions CreateWebhookJson()
    {
        var options = new JsonSerializerOptions(JsonSerializerDefaults.Web);
        ApiExtensions.ConfigureJson(options);
        return options;
    }
    readonly ConcurrentDictionary<string, (int Breaches, int Healthy, AlertState? Active)> _alerts = new();
    // The latest alert changes, oldest first; read and written only under _alertChanges, with the alerts' states.
    readonly Queue<AlertState> _recent = new();
    readonly Lock _alertChanges = new();
    readonly ConcurrentQueue<double> _turnLatencies = new();
    long _modelCalls, _modelFailures, _lastCalls, _lastFailures, _lastAuditFailures;
    TimeSpan _lastCpu = Process.GetCurrentProcess().TotalProcessorTime;
    DateTimeOffset _lastSampleAt = time.GetUtcNow();

    public ResourceSample? Latest { get; private set; }
    public DateTimeOffset Started => _started;
    /// <summary>
    /// The raised alerts and the latest changes, newest first, as of one moment: an alert's state and its entry in the
    /// changes are written together (<see cref="_alertChanges"/>), so a reader never sees an alert gone from the active
    /// list before its "cleared" is among the changes.
    /// </summary>
    public (IReadOnlyList<AlertState> Active, IReadOnlyList<AlertState> Recent) Alerts()
    {
        lock (_alertChanges) return (_alerts.Values.Select(a => a.Active).OfType<AlertState>().ToList(), _recent.Reverse().ToList());
    }

    public void OnTurnFinished(TurnOutcome outcome)
    {
        if (outcome.IsEval) return; // a burst of eval turns is not the customers' latency or the provider's failure rate
        _turnLatencies.Enqueue(outcome.Duration.TotalMilliseconds);
        while (_turnLatencies.Count > 1000) _turnLatencies.TryDequeue(out _);
        Interlocked.Increment(ref _modelCalls);
        if (outcome.Failure is Models.UpstreamModelException) Interlocked.Increment(ref _modelFailures);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        telemetry.Meter.CreateObservableGauge("agentry.backup.age", () => backups.LastVerified is { } last
            ? [new Measurement<double>(Math.Round((time.GetUtcNow() - last.CreatedAt).TotalSeconds))] : Array.Empty<Measurement<double>>(),
            "s", "Age of the newest verified backup; absent until there is one.");
        telemetry.Meter.CreateObservableGauge("agentry.alerts.active", () => _alerts.Select(a =>
            new Measurement<int>(a.Value.Active is null ? 0 : 1, new KeyValuePair<string, object?>("alert", a.Key))), "{alert}", "1 while an alert is raised.");
        using var timer = new PeriodicTimer(options.Value.SampleInterval);
        try
        {
            do
            {
                var sample = Sample();
                Latest = sample;
                foreach (var rule in options.Value.EffectiveAlerts) await EvaluateAsync(rule, sample, stoppingToken);
            } while (await timer.WaitForNextTickAsync(stoppingToken));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    ResourceSample Sample()
    {
        var now = time.GetUtcNow();
        var process = Process.GetCurrentProcess();
        var cpu = process.TotalProcessorTime;
        var elapsed = (now - _lastSampleAt).TotalMilliseconds;
        var cpuPercent = elapsed <= 0 ? 0 : (cpu - _lastCpu).TotalMilliseconds / (elapsed * Environment.ProcessorCount) * 100;
        (_lastCpu, _lastSampleAt) = (cpu, now);

        var calls = Interlocked.Read(ref _modelCalls);
        var failures = Interlocked.Read(ref _modelFailures);
        var windowCalls = calls - _lastCalls;
        var errorPercent = windowCalls == 0 ? 0 : (double)(failures - _lastFailures) / windowCalls * 100;
        (_lastCalls, _lastFailures) = (calls, failures);

        var latencies = _turnLatencies.ToArray();
        Array.Sort(latencies);
        double? p95 = latencies.Length == 0 ? null : latencies[Math.Min(latencies.Length - 1, (int)Math.Ceiling(latencies.Length * 0.95) - 1)];

        var folder = data.Value.FullDirectory(environment.ContentRootPath);
        var database = Directory.Exists(folder) ? Directory.EnumerateFiles(folder, "agentry.db*").Sum(f => new FileInfo(f).Length) : 0;
        return new ResourceSample(now, Math.Round(Math.Max(0, cpuPercent), 1), Math.Round(process.WorkingSet64 / 1048576.0, 1),
            Math.Round(GC.GetGCMemoryInfo().HeapSizeBytes / 1048576.0, 1), ThreadPool.PendingWorkItemCount, telemetry.OpenStreams,
            Math.Round(database / 1048576.0, 2), DiskSpaceHealthCheck.FreeBytes(folder) / 1048576, Math.Round(errorPercent, 1), p95, AuditWriteFailuresSinceLastSample(), BackupAgeHours(now),
            mcp.All.Count(c => c.HeldChanges.Count > 0));
    }

    /// <summary>Hours since the newest verified backup; while there is none yet on a schedule, hours since start (so failing backups alert too).</summary>
    double? BackupAgeHours(DateTimeOffset now) =>
        backups.LastVerified is { } last ? Math.Round((now - last.CreatedAt).TotalHours, 2)
        : backupOptions.Value.Scheduled ? Math.Round((now - _started).TotalHours, 2) : null;

    long AuditWriteFailuresSinceLastSample()
    {
        var total = audit.WriteFailures;
        var since = total - _lastAuditFailures;
        _lastAuditFailures = total;
        return since;
    }

    async Task EvaluateAsync(AlertRule rule, ResourceSample sample, CancellationToken cancellationToken)
    {
        var value = sample.Get(rule.Metric);
        var breached = value is { } v && ((rule.Above is { } above && v > above) || (rule.Below is { } below && v < below));
        var (breaches, healthy, active) = _alerts.GetValueOrDefault(rule.Name);
        (breaches, healthy) = breached ? (breaches + 1, 0) : (0, healthy + 1);
        AlertState? change = null;
        if (active is null && breaches >= rule.RaiseAfter)
            active = change = new AlertState(rule.Name, rule.Metric, "raised", value, rule.Above ?? rule.Below ?? 0, rule.Above is not null ? "above" : "below", sample.At);
        else if (active is not null && healthy >= rule.ClearAfter)
        {
            change = active with { State = "cleared", Value = value, Since = sample.At };
            active = null;
        }
        lock (_alertChanges)
        {
            _alerts[rule.Name] = (breaches, healthy, active);
            if (change is not null)
            {
                _recent.Enqueue(change);
                while (_recent.Count > 50) _recent.Dequeue();
            }
        }
        if (change is null)
        {
            if (active is not null) await alerts.StillRaisedAsync(rule.Name);
            return;
        }

        if (change.State == "raised") LogRaised(change.Name, change.Metric, change.Value, change.Direction, change.Threshold);
        else LogCleared(change.Name, change.Metric, change.Value);
        // Logged by every instance that sees it; audited and posted once for all of them (Observability/SharedAlerts.cs).
        if (!(change.State == "raised" ? await alerts.RaisedAsync(change.Name) : await alerts.ClearedAsync(change.Name))) return;
        audit.Enqueue(AuditActor.System, $"alert.{change.State}", $"alert:{change.Name}", change.State, change);
        await NotifyAsync(change, cancellationToken);
    }

    async Task NotifyAsync(AlertState change, CancellationToken cancellationToken)
    {
        if (options.Value.WebhookUrl is not { Length: > 0 } url) return;
        var body = JsonSerializer.Serialize(new { service = "agentry", version = OperationsExtensions.Version, alert = change }, WebhookJson);
        using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        if (options.Value.WebhookSecret is { Length: > 0 } secret)
            request.Headers.Add("X-Agentry-Signature", "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes(body))));
        try
        {
            using var response = await http.CreateClient(ObservabilityExtensions.WebhookClient).SendAsync(request, cancellationToken);
            if (!response.IsSuccessStatusCode) LogWebhookFailed(null, (int)response.StatusCode);
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or Polly.Timeout.TimeoutRejectedException)
        {
            LogWebhookFailed(e, 0);
        }
    }

    [LoggerMessage(EventId = 7000, Level = LogLevel.Warning, Message = "ALERT {Alert} raised: {Metric} = {Value} is {Direction} {Threshold}")]
    partial void LogRaised(string alert, string metric, double? value, string direction, double threshold);

    [LoggerMessage(EventId = 7001, Level = LogLevel.Information, Message = "Alert {Alert} cleared: {Metric} = {Value}")]
    partial void LogCleared(string alert, string metric, double? value);

    [LoggerMessage(EventId = 7002, Level = LogLevel.Warning, Message = "Alert webhook failed (status {Status})")]
    partial void LogWebhookFailed(Exception? exception, int status);
}
