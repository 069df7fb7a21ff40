using System.Collections.Concurrent;
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
/// </summary>
public static class SqliteWriteGate
{
    // One gate per database file: test hosts in one process each have their own.
    static readonly ConcurrentDictionary<string, SemaphoreSlim> Gates = new(StringComparer.Ordinal);

    /// <summary>A transaction that writes: on SQLite it holds this process's turn to write until it is disposed.</summary>
    public static async Task<IDbContextTransaction> BeginWriteTransactionAsync(this AgentryDbContext db, CancellationToken cancellationToken)
    {
        if (!db.IsSqlite()) return await db.Database.BeginTransactionAsync(cancellationToken);
        var gate = Gates.GetOrAdd(db.Database.GetConnectionString() ?? "", _ => new SemaphoreSlim(1, 1));
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
}
