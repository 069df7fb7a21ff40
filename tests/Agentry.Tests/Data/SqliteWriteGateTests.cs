using Agentry.Data;
using Microsoft.EntityFrameworkCore;

namespace Agentry.Tests.Data;

/// <summary>
/// Writers of one process take turns at the gate, on a real SQLite file: the second waits (without a thread) until
/// the first is disposed — committed or not — a waiter that gives up does not keep the gate, and each database file
/// has its own gate. Commits that queue behind the write lock are written in one transaction, one writer's failure
/// undoing only its own writes, and every context gets its own connection back.
/// </summary>
[Trait("Database", "sqlite")]
public sealed class SqliteWriteGateTests : IDisposable
{
    readonly string _folder = Directory.CreateTempSubdirectory("agentry-gate-").FullName;

    SqliteAgentryDbContext Open(string name = "agentry.db") => new(new DbContextOptionsBuilder<SqliteAgentryDbContext>()
        .UseSqlite($"Data Source={Path.Combine(_folder, name)};Pooling=False").UseSnakeCaseNamingConvention().Options);

    [Fact]
    public async Task A_second_writer_starts_when_the_first_is_disposed_and_a_cancelled_waiter_leaves_the_gate_free()
    {
        await using var first = Open();
        await using var second = Open();
        await using var third = Open();
        await using var elsewhere = Open("other.db");
        await first.Database.ExecuteSqlRawAsync("PRAGMA journal_mode=WAL; CREATE TABLE t (v INTEGER);");

        var held = await first.BeginWriteTransactionAsync(CancellationToken.None);
        await first.Database.ExecuteSqlRawAsync("INSERT INTO t VALUES (1)");
        var waiting = second.BeginWriteTransactionAsync(CancellationToken.None);
        using (var giveUp = new CancellationTokenSource())
        {
            var abandoned = third.BeginWriteTransactionAsync(giveUp.Token);
            // Another database file is not behind this one's writer.
            await using (await elsewhere.BeginWriteTransactionAsync(CancellationToken.None)) { }
            Assert.False(waiting.IsCompleted);
            Assert.False(abandoned.IsCompleted);
            await giveUp.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => abandoned);
        }
        Assert.False(waiting.IsCompleted);

        await held.DisposeAsync(); // not committed: rolled back, and the gate is free all the same
        await using (var next = await waiting.WaitAsync(TimeSpan.FromSeconds(10)))
        {
            await second.Database.ExecuteSqlRawAsync("INSERT INTO t VALUES (2)");
            await next.CommitAsync();
        }
        Assert.Equal([2], await first.Database.SqlQueryRaw<int>("SELECT v AS \"Value\" FROM t").ToListAsync());

        // The cancelled waiter took nothing: a third writer gets the gate at once.
        await using var last = await third.BeginWriteTransactionAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task Writers_that_queue_behind_the_lock_commit_in_one_transaction_and_a_failing_one_undoes_only_its_own_writes()
    {
        await using var setup = Open();
        await setup.Database.ExecuteSqlRawAsync("PRAGMA journal_mode=WAL; CREATE TABLE t (v INTEGER PRIMARY KEY);");
        var writers = Enumerable.Range(0, 4).Select(_ => Open()).ToList();
        var connections = new System.Data.Common.DbConnection?[writers.Count];

        // A solo writer holds the lock while four commits queue behind it; the third inserts a duplicate key.
        var held = await setup.BeginWriteTransactionAsync(CancellationToken.None);
        var commits = writers.Select((db, i) => db.CommitTogetherAsync(async () =>
        {
            connections[i] = db.Database.GetDbConnection();
            await db.Database.ExecuteSqlAsync($"INSERT INTO t VALUES ({10 + i})");
            await db.Database.ExecuteSqlAsync($"INSERT INTO t VALUES ({(i == 2 ? 10 : 20 + i)})");
        })).ToList();
        Assert.All(commits, c => Assert.False(c.IsCompleted));
        await held.DisposeAsync();

        await commits[0].WaitAsync(TimeSpan.FromSeconds(10));
        await commits[1].WaitAsync(TimeSpan.FromSeconds(10));
        var failed = await Assert.ThrowsAsync<Microsoft.Data.Sqlite.SqliteException>(() => commits[2].WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Contains("UNIQUE", failed.Message, StringComparison.Ordinal);
        await commits[3].WaitAsync(TimeSpan.FromSeconds(10));

        // One transaction: every writer wrote through the same connection (the first queued writer's, who led).
        Assert.All(connections, c => Assert.Same(connections[0], c));
        Assert.Equal([10, 11, 13, 20, 21, 23], await setup.Database.SqlQueryRaw<int>("SELECT v AS \"Value\" FROM t ORDER BY v").ToListAsync());

        // Each context has a connection of its own again, usable for reads and for its next commit alone.
        foreach (var (db, i) in writers.Select((db, i) => (db, i)))
        {
            Assert.NotSame(connections[0], i == 0 ? null : db.Database.GetDbConnection());
            Assert.Equal(6 + i, await db.Database.SqlQueryRaw<int>("SELECT count(*) AS \"Value\" FROM t").SingleAsync());
            await db.CommitTogetherAsync(() => db.Database.ExecuteSqlAsync($"INSERT INTO t VALUES ({30 + i})"));
        }
        Assert.Equal(10, await setup.Database.SqlQueryRaw<int>("SELECT count(*) AS \"Value\" FROM t").SingleAsync());
        foreach (var db in writers) await db.DisposeAsync();
    }

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_folder, recursive: true);
    }
}
