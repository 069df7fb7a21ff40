using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Threading.Channels;
using Agentry.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace Agentry.Audit;

/// <summary>
/// Records audit events. An event about a change the API acknowledges is <see cref="Stage">staged</see> in the same
/// database transaction as the change, so it is durable the moment the change is; the writer then appends it to the hash
/// chain. Events about nothing stored (alerts) are <see cref="Enqueue">queued</see> for the writer, and high-volume noise
/// (authentication failures, limit rejections) is <see cref="RecordAggregated">counted</see> per minute and written as
/// one row: those two wait in memory and a crash can lose the last seconds of them.
/// </summary>
public sealed class AuditLog(TimeProvider time)
{
    static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    // Not declared single-reader: only the multi-reader channel can report its Count (the queue-length gauge and health check).
    readonly Channel<AuditEntry> _queue = Channel.CreateUnbounded<AuditEntry>();
    readonly ConcurrentDictionary<(string Action, string Actor, string? Ip, string? Target, string Outcome, long Minute), int> _aggregated = new();
    readonly Channel<bool> _staged = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });

    internal ChannelReader<AuditEntry> Reader => _queue.Reader;

    /// <summary>Signalled when staged events were committed, so the writer chains them without polling.</summary>
    internal ChannelReader<bool> Staged => _staged.Reader;

    /// <summary>Events queued in memory and not yet written (including a batch the writer keeps after a failed write).</summary>
    public int Pending => _queue.Reader.Count + Volatile.Read(ref _retained);

    /// <summary>Writes of the chain that failed after their retries, since the start (a gauge of trouble for alerts).</summary>
    public long WriteFailures => Interlocked.Read(ref _writeFailures);

    int _retained;
    long _writeFailures;

    internal void WriteFailed(int retainedEvents)
    {
        Interlocked.Increment(ref _writeFailures);
        Volatile.Write(ref _retained, retainedEvents);
    }

    internal void Retained(int events) => Volatile.Write(ref _retained, events);

    /// <summary>
    /// Adds the event to <paramref name="db"/>'s unit of work: it is stored by the caller's next SaveChanges, in the same
    /// transaction as the change it describes, or not at all.
    /// </summary>
    public void Stage(AgentryDbContext db, AuditActor actor, string action, string? target, string outcome = "success", object? detail = null) =>
        db.AuditOutbox.Add(Entry(actor, action, target, outcome, detail));

    /// <summary>An event ready to be staged (added to the outbox in the transaction of the change it describes).</summary>
    public AuditOutboxEntry Entry(AuditActor actor, string action, string? target, string outcome = "success", object? detail = null) => new()
    {
        Time = time.GetUtcNow(), Actor = actor.Actor, ClientIp = actor.ClientIp, Action = action, Target = target, Outcome = outcome,
        TraceId = actor.TraceId, Detail = Serialize(detail),
    };

    /// <summary>Stages the event and saves: for acknowledged actions that change no row themselves (a reload, a start-up decision).</summary>
    public async Task RecordAsync(AgentryDbContext db, AuditActor actor, string action, string? target, string outcome = "success", object? detail = null,
        CancellationToken cancellationToken = default)
    {
        Stage(db, actor, action, target, outcome, detail);
        await db.SaveChangesAsync(cancellationToken);
    }

    /// <summary>Queues an event that describes no stored change (an alert raised); written within moments, best effort across a crash.</summary>
    public void Enqueue(AuditActor actor, string action, string? target, string outcome, object? detail = null) =>
        _queue.Writer.TryWrite(new AuditEntry(time.GetUtcNow(), actor.Actor, actor.ClientIp, action, target, outcome, actor.TraceId, 1, Serialize(detail)));

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
                Serialize(new { window = "1m", from = windowStart, count })));
        }
    }

    internal void SignalStaged() => _staged.Writer.TryWrite(true);

    static string? Serialize(object? detail) => detail is null ? null : JsonSerializer.Serialize(detail, Json);
}

/// <summary>Wakes the audit writer after a save that committed staged audit events.</summary>
public sealed class AuditOutboxInterceptor(AuditLog audit) : SaveChangesInterceptor
{
    readonly ConditionalWeakTable<DbContext, object> _staging = [];

    public override ValueTask<InterceptionResult<int>> SavingChangesAsync(DbContextEventData eventData, InterceptionResult<int> result, CancellationToken cancellationToken = default)
    {
        if (eventData.Context is { } db && db.ChangeTracker.Entries<AuditOutboxEntry>().Any(e => e.State == EntityState.Added))
            _staging.AddOrUpdate(db, audit);
        return ValueTask.FromResult(result);
    }

    public override ValueTask<int> SavedChangesAsync(SaveChangesCompletedEventData eventData, int result, CancellationToken cancellationToken = default)
    {
        if (eventData.Context is { } db && _staging.Remove(db)) audit.SignalStaged();
        return ValueTask.FromResult(result);
    }

    public override Task SaveChangesFailedAsync(DbContextErrorEventData eventData, CancellationToken cancellationToken = default)
    {
        if (eventData.Context is { } db) _staging.Remove(db);
        return Task.CompletedTask;
    }
}
