using Agentry.Data;

namespace Agentry.Operations.Backups;

/// <summary>What a backup file holds, read from the file itself: its schema version, and each table's rows and checksum.</summary>
public sealed record BackupSnapshot(string SchemaVersion, Dictionary<string, long> RowCounts, Dictionary<string, string> TableChecksums);

/// <summary>
/// How one database provider is backed up, restore-tested and restored. <see cref="Backups"/> does everything around it
/// (the folder, manifests, checksums, encryption, verification, pruning, audit) the same way for every provider.
/// </summary>
public interface IDatabaseBackup
{
    /// <summary><see cref="DataOptions.Sqlite"/> or <see cref="DataOptions.Postgres"/>, as manifests record it.</summary>
    string Provider { get; }

    /// <summary>The backup file's extension (<c>.db</c>, <c>.sql</c>).</summary>
    string Extension { get; }

    /// <summary>Whether every verification restores the file (for SQLite a restore is a copy of the file, so it costs nothing extra).</summary>
    bool RestoreTestsEveryBackup { get; }

    /// <summary>Writes one consistent copy of the live database to <paramref name="path"/> (an existing 0600 file) while it keeps serving.</summary>
    Task<BackupSnapshot> BackUpAsync(AgentryDbContext db, string path, IProgress<string>? progress, CancellationToken cancellationToken);

    /// <summary>Restores the (plain) file into a temporary database, reads it back and removes it.</summary>
    Task<BackupSnapshot> RestoreTestAsync(AgentryDbContext db, string path, IProgress<string>? progress, CancellationToken cancellationToken);

    /// <summary>
    /// Replaces the live database with the (plain) file, switching only once the restored copy passes
    /// <paramref name="matches"/>; returns the name the previous database is kept under.
    /// </summary>
    Task<string> RestoreAsync(AgentryDbContext db, string path, Func<BackupSnapshot, string?> matches, string stamp, IProgress<string>? progress,
        CancellationToken cancellationToken);
}
