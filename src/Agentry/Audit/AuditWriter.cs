using System.Data.Common;
using Agentry.Data;
using Microsoft.EntityFrameworkCore;

namespace Agentry.Audit;

/// <summary>
/// The writer of the audit chain in this process. It appends staged events (the outbox) as soon as they are committed
/// and queued events as they arrive, each batch in one transaction that first takes the chain lock, so writers in
/// several instances (and the command line) append one after another and never fork the chain. On start it chains what a crash left in
/// the outbox; on a graceful stop, after the web server has drained, it writes everything still waiting.
/// </summary>
public sealed partial class AuditWriter(AuditLog log, IServiceScopeFactory scopes, Observability.AgentryTelemetry telemetry, ILogger<AuditWriter> logger)
    : BackgroundService, IHostedLifecycleService
{
    const int BatchSize = 500;

    // A queued batch that could not be written is kept and tried again on the next wake-up (at least every 5 s), never dropped.
    readonly List<AuditEntry> _retry = [];

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await WriteAsync(CancellationToken.None); // events a crash left staged
        using var tick = new PeriodicTimer(TimeSpan.FromSeconds(5));
        var timer = tick.WaitForNextTickAsync(stoppingToken).AsTask();
        var queued = log.Reader.WaitToReadAsync(stoppingToken).AsTask();
        var staged = log.Staged.WaitToReadAsync(stoppingToken).AsTask();
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                var woke = await Task.WhenAny(timer, queued, staged);
                await woke; // surfaces cancellation
                if (woke == timer)
                {
                    // Finished minutes of aggregated counts, and events staged by another process (the command line).
                    log.FlushAggregated(all: false);
                    timer = tick.WaitForNextTickAsync(stoppingToken).AsTask();
                }
                else if (woke == queued) queued = log.Reader.WaitToReadAsync(stoppingToken).AsTask();
                else
                {
                    log.Staged.TryRead(out _);
                    staged = log.Staged.WaitToReadAsync(stoppingToken).AsTask();
                }
                await WriteAsync(CancellationToken.None);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>After every hosted service has stopped (the web server drained), so events of the last requests are written too.</summary>
    int _stopped;

    public async Task StoppedAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _stopped, 1) == 1) return; // a host can be stopped twice (test hosts are); write once
        log.FlushAggregated(all: true);
        // The host's token may already be spent by a long drain; the final write gets its own bound instead.
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            await WriteAsync(bound.Token);
        }
        catch (OperationCanceledException)
        {
            LogFinalWriteTimedOut(log.Pending);
        }
    }

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    async Task WriteAsync(CancellationToken cancellationToken)
    {
        await WriteQueuedAsync(cancellationToken);
        await WithRetriesAsync(db => ChainStagedAsync(db, cancellationToken), cancellationToken);
    }

    async Task WriteQueuedAsync(CancellationToken cancellationToken)
    {
        var batch = new List<AuditEntry>(_retry);
        _retry.Clear();
        while (true)
        {
            while (batch.Count < BatchSize && log.Reader.TryRead(out var entry)) batch.Add(entry);
            if (batch.Count == 0) break;
            if (!await WithRetriesAsync(db => AppendAsync(db, batch, cancellationToken), cancellationToken))
            {
                _retry.AddRange(batch);
                break;
            }
            batch.Clear();
        }
        log.Retained(_retry.Count);
    }

    async Task<bool> WithRetriesAsync(Func<AgentryDbContext, Task> write, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await using var scope = scopes.CreateAsyncScope();
                await write(scope.ServiceProvider.GetRequiredService<AgentryDbContext>());
                return true;
            }
            catch (Exception e) when (e is DbUpdateException or DbException or InvalidOperationException && attempt < 3)
            {
                // Another process (the command line) appended at the same moment; re-read the chain head and retry.
                LogRetry(e);
            }
            catch (Exception e) when (e is DbUpdateException or DbException or InvalidOperationException)
            {
                // Kept for the next try (staged events stay in the outbox); counted, so the audit-write-failing alert is raised.
                LogWriteFailed(e);
                telemetry.AuditWriteFailed();
                log.WriteFailed(_retry.Count);
                return false;
            }
        }
    }

    /// <summary>Appends every staged event to the chain, oldest first, removing each from the outbox in the same transaction.</summary>
    public static async Task ChainStagedAsync(AgentryDbContext db, CancellationToken cancellationToken)
    {
        while (true)
        {
            await using var transaction = await db.BeginWriteTransactionAsync(cancellationToken);
            await db.LockAsync(SharedLock.AuditChain, cancellationToken);
            var staged = await db.AuditOutbox.OrderBy(e => e.Id).Take(BatchSize).ToListAsync(cancellationToken);
            if (staged.Count == 0) return;
            await AddToChainAsync(db, staged.Select(e => e.ToEntry()), cancellationToken);
            db.AuditOutbox.RemoveRange(staged);
            await db.SaveChangesAsync(cancellationToken);
            await transaction.CommitAsync(cancellationToken);
            db.ChangeTracker.Clear();
        }
    }

    /// <summary>Appends events to the chain in one transaction.</summary>
    public static async Task AppendAsync(AgentryDbContext db, IReadOnlyList<AuditEntry> entries, CancellationToken cancellationToken)
    {
        await using var transaction = await db.BeginWriteTransactionAsync(cancellationToken);
        await db.LockAsync(SharedLock.AuditChain, cancellationToken);
        await AddToChainAsync(db, entries, cancellationToken);
        await db.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        db.ChangeTracker.Clear();
    }

    static async Task AddToChainAsync(AgentryDbContext db, IEnumerable<AuditEntry> entries, CancellationToken cancellationToken)
    {
        var last = await db.AuditEvents.AsNoTracking().OrderByDescending(e => e.Id).Select(e => new { e.Id, e.Hash }).FirstOrDefaultAsync(cancellationToken);
        var previousHash = last?.Hash ?? AuditChain.Genesis;
        var nextId = (last?.Id ?? 0) + 1;
        foreach (var entry in entries)
        {
            var row = new AuditEvent
            {
                // Microseconds: what PostgreSQL stores, so the hash of the stored row is the hash that was written.
                Id = nextId++, Time = new DateTimeOffset(entry.Time.UtcTicks - entry.Time.UtcTicks % 10, TimeSpan.Zero), Actor = entry.Actor, ClientIp = entry.ClientIp, Action = entry.Action, Target = entry.Target,
                Outcome = entry.Outcome, TraceId = entry.TraceId, Count = entry.Count, Detail = entry.Detail, PreviousHash = previousHash, Hash = "",
            };
            row.Hash = AuditChain.ComputeHash(row);
            previousHash = row.Hash;
            db.AuditEvents.Add(row);
        }
    }

    [LoggerMessage(EventId = 5000, Level = LogLevel.Debug, Message = "Audit append conflicted with another writer; retrying")]
    partial void LogRetry(Exception exception);

    [LoggerMessage(EventId = 5001, Level = LogLevel.Error, Message = "Could not write audit events; they are kept and written again shortly")]
    partial void LogWriteFailed(Exception exception);

    [LoggerMessage(EventId = 5002, Level = LogLevel.Warning, Message = "Stopped before {Count} queued audit event(s) were written")]
    partial void LogFinalWriteTimedOut(int count);
}
