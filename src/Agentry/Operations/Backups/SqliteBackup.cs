using Agentry.Data;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;

namespace Agentry.Operations.Backups;

/// <summary>SQLite: the online backup API copies a consistent snapshot while writers go on; a restore is a copy of the file.</summary>
public sealed class SqliteBackup : IDatabaseBackup
{
    public string Provider => DataOptions.Sqlite;
    public string Extension => ".db";
    public bool RestoreTestsEveryBackup => true;

    public async Task<BackupSnapshot> BackUpAsync(AgentryDbContext db, string path, IProgress<string>? progress, CancellationToken cancellationToken)
    {
        await using (var source = new SqliteConnection(db.Database.GetConnectionString()))
        await using (var target = new SqliteConnection($"Data Source={path};Pooling=False"))
        {
            await source.OpenAsync(cancellationToken);
            await target.OpenAsync(cancellationToken);
            // This connection is not the service's (no interceptor): without a busy timeout, a turn committing at that
            // instant made the copy fail at once with "database is locked" (a 500, found by the generated-request test).
            await using (var wait = source.CreateCommand())
            {
                wait.CommandText = SqliteConnectionSettings.BusyTimeout;
                await wait.ExecuteNonQueryAsync(cancellationToken);
            }
            source.BackupDatabase(target); // one consistent snapshot, taken while writers go on
            // A backup is one self-contained file: no write-ahead log beside it.
            await using var journal = target.CreateCommand();
            journal.CommandText = "PRAGMA journal_mode=DELETE";
            await journal.ExecuteNonQueryAsync(cancellationToken);
        }
        progress?.Report($"Copied {new FileInfo(path).Length / 1024} KiB; reading it back");
        return await ReadAsync(db, path, progress, cancellationToken);
    }

    /// <summary>For SQLite a restore is a copy of the file: reading a copy back, after its integrity check, is the restore test.</summary>
    public async Task<BackupSnapshot> RestoreTestAsync(AgentryDbContext db, string path, IProgress<string>? progress, CancellationToken cancellationToken)
    {
        var copy = Path.Combine(Path.GetTempPath(), $"agentry-verify-{Guid.NewGuid():N}.db");
        OwnerOnlyFile.Copy(path, copy);
        try
        {
            await using (var connection = new SqliteConnection($"Data Source={copy};Pooling=False"))
            {
                await connection.OpenAsync(cancellationToken);
                await using var check = connection.CreateCommand();
                check.CommandText = "PRAGMA integrity_check";
                if ((string?)await check.ExecuteScalarAsync(cancellationToken) is not "ok") throw new InvalidOperationException("SQLite's integrity check failed.");
            }
            return await ReadAsync(db, copy, progress, cancellationToken);
        }
        finally
        {
            File.Delete(copy);
        }
    }

    public async Task<string> RestoreAsync(AgentryDbContext db, string path, Func<BackupSnapshot, string?> matches, string stamp, IProgress<string>? progress,
        CancellationToken cancellationToken)
    {
        var live = new SqliteConnectionStringBuilder(db.Database.GetConnectionString()).DataSource;
        var restoring = $"{live}.restoring";
        OwnerOnlyFile.Copy(path, restoring);
        var mismatch = matches(await ReadAsync(db, restoring, progress, cancellationToken));
        SqliteConnection.ClearAllPools();
        if (mismatch is not null)
        {
            File.Delete(restoring);
            throw new InvalidOperationException($"The restored copy does not match: {mismatch}");
        }
        var kept = $"{live}.before-restore-{stamp}";
        if (File.Exists(live)) File.Move(live, kept);
        foreach (var sidecar in new[] { "-wal", "-shm" }) if (File.Exists(live + sidecar)) File.Move(live + sidecar, kept + sidecar);
        File.Move(restoring, live);
        return kept;
    }

    static async Task<BackupSnapshot> ReadAsync(AgentryDbContext db, string path, IProgress<string>? progress, CancellationToken cancellationToken)
    {
        await using var connection = new SqliteConnection($"Data Source={path};Mode=ReadOnly;Pooling=False");
        await connection.OpenAsync(cancellationToken);
        var schema = await TableFingerprint.SchemaVersionAsync(connection, cancellationToken);
        var (counts, checksums) = await TableFingerprint.ReadAsync(connection, TableFingerprint.Tables(db), progress, cancellationToken);
        return new BackupSnapshot(schema, counts, checksums);
    }
}
