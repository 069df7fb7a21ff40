using Agentry.Data;
using Microsoft.EntityFrameworkCore;

namespace Agentry.Tests.Data;

/// <summary>
/// Writers of one process take turns at the gate, on a real SQLite file: the second waits (without a thread) until
/// the first is disposed — committed or not — a waiter that gives up does not keep the gate, and each database file
/// has its own gate.
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

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_folder, recursive: true);
    }
}
