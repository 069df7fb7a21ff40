using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using System.Threading.Channels;
using Agentry.Data;
using Agentry.Security;
using Microsoft.EntityFrameworkCore;

namespace Agentry.Audit;

/// <summary>An event waiting to be written.</summary>
public sealed record AuditEntry(
    DateTimeOffset Time, string Actor, string? ClientIp, string Action, string? Target, string Outcome, string? TraceId, int Count, object? Detail);

/// <summary>
/// Records audit events without slowing requests: callers enqueue, one background writer appends batches in a
/// single transaction each and extends the hash chain. Repeated noisy events (authentication failures, limit
/// rejections) are counted per minute and written as one row. On shutdown everything queued is written.
/// </summary>
public sealed class AuditLog(TimeProvider time)
{
    // Not declared single-reader: only the multi-reader channel can report its Count (the queue-length gauge and health check).
    readonly Channel<AuditEntry> _queue = Channel.CreateUnbounded<AuditEntry>();
    readonly ConcurrentDictionary<(string Action, string Actor, string? Ip, string? Target, string Outcome, long Minute), int> _aggregated = new();

    internal ChannelReader<AuditEntry> Reader => _queue.Reader;

    /// <summary>Events queued and not yet written.</summary>
    public int Pending => _queue.Reader.Count;

    public void Record(string action, string actor, string? clientIp, string? target, string outcome, object? detail = null) =>
        _queue.Writer.TryWrite(new AuditEntry(time.GetUtcNow(), actor, clientIp, action, target, outcome, Activity.Current?.TraceId.ToString(), 1, detail));

    /// <summary>Records an event on behalf of the request's caller.</summary>
    public void Record(HttpContext http, string action, string? target, string outcome = "success", object? detail = null) =>
        _queue.Writer.TryWrite(new AuditEntry(time.GetUtcNow(), http.GetCaller()?.KeyId ?? "anonymous", http.Connection.RemoteIpAddress?.ToString(),
            action, target, outcome, Activity.Current?.TraceId.ToString() ?? http.TraceIdentifier, 1, detail));

    /// <summary>Counts an occurrence; one row per (action, actor, client, target, outcome) and minute is written.</summary>
    public void RecordAggregated(string action, string actor, string? clientIp, string? target, string outcome)
    {
        var minute = time.GetUtcNow().ToUnixTimeSeconds() / 60;
        _aggregated.AddOrUpdate((action, actor, clientIp, target, outcome, minute), 1, (_, n) => n + 1);
    }

    /// <summary>Moves aggregated counts of finished minutes (or all, on shutdown) into the queue.</summary>
    internal void FlushAggregated(bool all)
    {
        var currentMinute = time.GetUtcNow().ToUnixTimeSeconds() / 60;
        foreach (var key in _aggregated.Keys)
        {
            if (!all && key.Minute >= currentMinute) continue;
            if (!_aggregated.TryRemove(key, out var count)) continue;
            var windowStart = DateTimeOffset.FromUnixTimeSeconds(key.Minute * 60);
            _queue.Writer.TryWrite(new AuditEntry(windowStart, key.Actor, key.Ip, key.Action, key.Target, key.Outcome, null, count,
                new { window = "1m", from = windowStart, count }));
        }
    }

    internal void Complete() => _queue.Writer.TryComplete();
}

/// <summary>The single writer of the audit log.</summary>
public sealed partial class AuditWriter(AuditLog log, IServiceScopeFactory scopes, ILogger<AuditWriter> logger) : BackgroundService
{
    static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var aggregation = new PeriodicTimer(TimeSpan.FromSeconds(5));
        var tick = aggregation.WaitForNextTickAsync(stoppingToken).AsTask();
        var ready = log.Reader.WaitToReadAsync(stoppingToken).AsTask();
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                if (await Task.WhenAny(ready, tick) == tick)
                {
                    await tick;
                    log.FlushAggregated(all: false);
                    tick = aggregation.WaitForNextTickAsync(stoppingToken).AsTask();
                    continue;
                }
                if (!await ready) break;
                await WriteAvailableAsync(CancellationToken.None);
                ready = log.Reader.WaitToReadAsync(stoppingToken).AsTask();
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>On a graceful shutdown nothing queued is lost: aggregated counts and the queue are written out.</summary>
    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        log.FlushAggregated(all: true);
        await WriteAvailableAsync(cancellationToken);
    }

    async Task WriteAvailableAsync(CancellationToken cancellationToken)
    {
        var batch = new List<AuditEntry>();
        while (batch.Count < 500 && log.Reader.TryRead(out var entry)) batch.Add(entry);
        while (batch.Count > 0)
        {
            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    await using var scope = scopes.CreateAsyncScope();
                    await AppendAsync(scope.ServiceProvider.GetRequiredService<AgentryDbContext>(), batch, cancellationToken);
                    break;
                }
                catch (Exception e) when (e is DbUpdateException or InvalidOperationException && attempt < 3)
                {
                    // Another process (the command line) appended at the same moment; re-read the chain head and retry.
                    LogRetry(e);
                }
                catch (Exception e) when (e is DbUpdateException or InvalidOperationException)
                {
                    LogWriteFailed(e, batch.Count);
                    return;
                }
            }
            batch.Clear();
            while (batch.Count < 500 && log.Reader.TryRead(out var entry)) batch.Add(entry);
        }
    }

    /// <summary>Appends events to the chain in one transaction. Also used by the command line, which has no writer running.</summary>
    public static async Task AppendAsync(AgentryDbContext db, IReadOnlyList<AuditEntry> entries, CancellationToken cancellationToken)
    {
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        var last = await db.AuditEvents.AsNoTracking().OrderByDescending(e => e.Id).Select(e => new { e.Id, e.Hash }).FirstOrDefaultAsync(cancellationToken);
        var previousHash = last?.Hash ?? AuditChain.Genesis;
        var nextId = (last?.Id ?? 0) + 1;
        foreach (var entry in entries)
        {
            var row = new AuditEvent
            {
                Id = nextId++, Time = entry.Time, Actor = entry.Actor, ClientIp = entry.ClientIp, Action = entry.Action, Target = entry.Target,
                Outcome = entry.Outcome, TraceId = entry.TraceId, Count = entry.Count,
                Detail = entry.Detail is null ? null : JsonSerializer.Serialize(entry.Detail, Json),
                PreviousHash = previousHash, Hash = "",
            };
            row.Hash = AuditChain.ComputeHash(row);
            previousHash = row.Hash;
            db.AuditEvents.Add(row);
        }
        await db.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        db.ChangeTracker.Clear();
    }

    [LoggerMessage(EventId = 5000, Level = LogLevel.Debug, Message = "Audit append conflicted with another writer; retrying")]
    partial void LogRetry(Exception exception);

    [LoggerMessage(EventId = 5001, Level = LogLevel.Error, Message = "Could not write {Count} audit event(s)")]
    partial void LogWriteFailed(Exception exception, int count);
}
