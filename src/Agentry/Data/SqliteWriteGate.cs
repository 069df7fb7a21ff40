using System.Collections.Concurrent;
using System.Data.Common;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;

namespace Agentry.Data;

/// <summary>
/// SQLite has one writer at a time. A transaction that finds the write lock taken waits in SQLite's busy handler,
/// which blocks its thread and sleeps 1, 2, 5, 10, 15… ms between tries whether or not the lock was freed in between.
/// Under load that was most of a turn's commit: thread-pool threads asleep in <c>BEGIN IMMEDIATE</c> while the turn
/// holding the lock waited for a thread to finish its own commit. Writers of this process queue here instead, without
/// a thread, and the next one starts the moment the one before is done. Other processes (the command line) still meet
/// the busy handler, as before. PostgreSQL: no gate (its row locks are finer, and instances share the database).
/// <para>
/// Turns commit together (<see cref="CommitTogetherAsync"/>): with one writer at a time, the write lock was held
/// 80 % of the time at saturation and a commit waited 20–30 ms for it, while each commit wrote its own copy of the
/// same table and index pages to the log. Commits that arrive while the lock is held queue, and the next holder writes
/// all of them in one transaction, each in its own savepoint, so one writer's failure undoes only its own writes.
/// Nobody is answered before the transaction holding their writes has committed.
/// </para>
/// </summary>
public static class SqliteWriteGate
{
    // One gate and queue per database file: test hosts in one process each have their own.
    static readonly ConcurrentDictionary<string, CommitQueue> Queues = new(StringComparer.Ordinal);

    /// <summary>Most commits written in one transaction: bounds how long the write lock is held at once.</summary>
    const int MaxGroup = 32;

    static CommitQueue QueueOf(AgentryDbContext db) => Queues.GetOrAdd(db.Database.GetConnectionString() ?? "", _ => new CommitQueue());

    /// <summary>A transaction that writes: on SQLite it holds this process's turn to write until it is disposed.</summary>
    public static async Task<IDbContextTransaction> BeginWriteTransactionAsync(this AgentryDbContext db, CancellationToken cancellationToken)
    {
        if (!db.IsSqlite()) return await db.Database.BeginTransactionAsync(cancellationToken);
        var gate = QueueOf(db).Gate;
        await gate.WaitAsync(cancellationToken);
        try
        {
            return new GatedTransaction(await db.Database.BeginTransactionAsync(cancellationToken), gate);
        }
        catch
        {
            gate.Release();
            throw;
        }
    }

    sealed class GatedTransaction(IDbContextTransaction inner, SemaphoreSlim gate) : IDbContextTransaction
    {
        int _released;

        public Guid TransactionId => inner.TransactionId;
        public void Commit() => inner.Commit();
        public Task CommitAsync(CancellationToken cancellationToken = default) => inner.CommitAsync(cancellationToken);
        public void Rollback() => inner.Rollback();
        public Task RollbackAsync(CancellationToken cancellationToken = default) => inner.RollbackAsync(cancellationToken);

        public void Dispose()
        {
            try
            {
                inner.Dispose();
            }
            finally
            {
                Release();
            }
        }

        public async ValueTask DisposeAsync()
        {
            try
            {
                await inner.DisposeAsync();
            }
            finally
            {
                Release();
            }
        }

        void Release()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0) gate.Release();
        }
    }

    /// <summary>
    /// Runs <paramref name="write"/> (which writes through <paramref name="db"/> only) in a transaction and returns once
    /// that transaction has committed. On SQLite the transaction may hold other writers' work too (see the class);
    /// <paramref name="db"/> is then lent the shared connection for the length of <paramref name="write"/>. An exception
    /// from <paramref name="write"/> undoes its writes alone and is rethrown here; a failed commit fails every writer in it.
    /// Not cancellable: what a writer hands over is written.
    /// </summary>
    public static async Task CommitTogetherAsync(this AgentryDbContext db, Func<Task> write)
    {
        if (!db.IsSqlite())
        {
            await using var transaction = await db.Database.BeginTransactionAsync(CancellationToken.None);
            await write();
            await transaction.CommitAsync(CancellationToken.None);
            return;
        }
        var queue = QueueOf(db);
        var writer = new Writer(db, write);
        if (!queue.Join(writer) && !await writer.Outcome.Task) return; // written by the writer who led its group
        await queue.LeadAsync(writer);
    }

    /// <summary>One writer's work and how it ended: true asks it to lead the next group, false says it is committed.</summary>
    sealed record Writer(AgentryDbContext Db, Func<Task> Write)
    {
        public TaskCompletionSource<bool> Outcome { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    /// <summary>The writers of one database waiting for the write lock; one of them at a time leads.</summary>
    sealed class CommitQueue
    {
        /// <summary>This process's turn to write: a group's leader and every solo writer take it.</summary>
        public SemaphoreSlim Gate { get; } = new(1, 1);

        readonly Lock _sync = new();
        readonly Queue<Writer> _waiting = new();
        bool _led;

        /// <summary>Queues the writer; true when nobody leads, so it leads now.</summary>
        public bool Join(Writer writer)
        {
            lock (_sync)
            {
                _waiting.Enqueue(writer);
                if (_led) return false;
                _led = true;
                return true;
            }
        }

        /// <summary>Writes the waiting writers (the leader among them) in one transaction, then hands the lead on.</summary>
        public async Task LeadAsync(Writer leader)
        {
            Exception? own = null;
            try
            {
                await Gate.WaitAsync(CancellationToken.None); // a solo writer (the audit chain) may hold it
                try
                {
                    List<Writer> group;
                    lock (_sync)
                    {
                        group = new List<Writer>(Math.Min(_waiting.Count, MaxGroup));
                        while (group.Count < MaxGroup && _waiting.TryDequeue(out var next)) group.Add(next);
                    }
                    var failures = await WriteAsync(leader.Db, group);
                    for (var i = 0; i < group.Count; i++)
                    {
                        if (ReferenceEquals(group[i], leader)) own = failures[i];
                        else if (failures[i] is { } failure) group[i].Outcome.TrySetException(failure);
                        else group[i].Outcome.TrySetResult(false);
                    }
                }
                finally
                {
                    Gate.Release();
                }
            }
            finally
            {
                lock (_sync)
                {
                    // The next group's first writer leads it, on its own request's thread.
                    if (_waiting.TryPeek(out var next)) next.Outcome.TrySetResult(true);
                    else _led = false;
                }
            }
            if (own is not null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(own);
        }

        /// <summary>The group's writes in one transaction on the leader's connection; what each writer failed with, if it did.</summary>
        static async Task<Exception?[]> WriteAsync(AgentryDbContext lead, List<Writer> group)
        {
            var failures = new Exception?[group.Count];
            IDbContextTransaction transaction;
            try
            {
                transaction = await lead.Database.BeginTransactionAsync(CancellationToken.None);
            }
            catch (Exception e)
            {
                Array.Fill(failures, e);
                return failures;
            }
            await using (transaction)
            {
                var connection = lead.Database.GetDbConnection();
                var shared = transaction.GetDbTransaction();
                var lent = new List<(AgentryDbContext Db, string? ConnectionString)>();
                Exception? broken = null;
                try
                {
                    for (var i = 0; i < group.Count; i++)
                    {
                        var db = group[i].Db;
                        if (broken is not null)
                        {
                            failures[i] = broken;
                            continue;
                        }
                        if (!ReferenceEquals(db, lead))
                        {
                            try
                            {
                                var connectionString = db.Database.GetConnectionString();
                                db.Database.SetDbConnection(connection, contextOwnsConnection: false);
                                lent.Add((db, connectionString));
                                await db.Database.UseTransactionAsync(shared, CancellationToken.None);
                            }
                            catch (InvalidOperationException e)
                            {
                                failures[i] = e; // its context held a connection of its own open: its writes never started
                                continue;
                            }
                        }
                        // Alone in the transaction, a writer needs no savepoint: its failure rolls the whole back.
                        if (group.Count == 1)
                        {
                            await group[i].Write();
                            continue;
                        }
                        await shared.SaveAsync("writer", CancellationToken.None);
                        try
                        {
                            await group[i].Write();
                            await shared.ReleaseAsync("writer", CancellationToken.None);
                        }
                        catch (Exception e)
                        {
                            failures[i] = e;
                            try
                            {
                                await shared.RollbackAsync("writer", CancellationToken.None);
                            }
                            catch (DbException lost)
                            {
                                // SQLite ended the transaction itself (a full disk, an I/O error): nothing after it can join.
                                broken = lost;
                            }
                        }
                    }
                    if (broken is not null) throw broken;
                    await transaction.CommitAsync(CancellationToken.None);
                }
                catch (Exception e)
                {
                    // Not committed: every writer that had not failed on its own fails with the transaction.
                    for (var i = 0; i < failures.Length; i++) failures[i] ??= e;
                }
                finally
                {
                    foreach (var (db, connectionString) in lent)
                    {
                        await db.Database.UseTransactionAsync(null, CancellationToken.None);
                        db.Database.SetDbConnection(null, contextOwnsConnection: true);
                        db.Database.SetConnectionString(connectionString);
                    }
                }
            }
            return failures;
        }
    }
}
