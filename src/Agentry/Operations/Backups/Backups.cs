using System.Data;
using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json;
using Agentry.Audit;
using Agentry.Data;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Agentry.Operations.Backups;

/// <summary>
/// Online backups, their verification and restores. SQLite: the online backup API copies a consistent snapshot while
/// the service keeps writing. PostgreSQL: <c>pg_dump</c> reads a snapshot exported by a repeatable-read transaction, in
/// which the manifest's row counts and table checksums are computed too, so manifest and dump describe the same
/// moment. Every backup is checked (checksum, integrity) and, every <see cref="BackupOptions.RestoreTestEvery"/>th one,
/// restored into a temporary database and compared with its manifest; a restore refuses a backup whose checksum or
/// schema version is wrong and switches to the restored database only once it is complete and verified.
/// </summary>
public sealed partial class Backups(
    IServiceScopeFactory scopes, IOptions<BackupOptions> options, IOptions<DataOptions> data, IHostEnvironment environment, AuditLog audit,
    TimeProvider time, ILogger<Backups> logger) : IDisposable
{
    public string Folder => Path.GetFullPath(Path.Combine(data.Value.FullDirectory(environment.ContentRootPath), options.Value.Folder));

    /// <summary>Backups in the folder, newest first.</summary>
    public IReadOnlyList<BackupManifest> List()
    {
        if (!Directory.Exists(Folder)) return [];
        var manifests = new List<BackupManifest>();
        foreach (var file in Directory.GetFiles(Folder, "*.manifest.json"))
        {
            try
            {
                if (JsonSerializer.Deserialize<BackupManifest>(File.ReadAllText(file), BackupManifest.Json) is { } manifest) manifests.Add(manifest);
            }
            catch (Exception e) when (e is JsonException or IOException)
            {
                LogUnreadableManifest(e, file);
            }
        }
        return manifests.OrderByDescending(m => m.CreatedAt).ToList();
    }

    public BackupManifest? LastVerified => List().FirstOrDefault(m => m.Verification is { Ok: true });

    readonly SemaphoreSlim _oneAtATime = new(1, 1);

    public void Dispose() => _oneAtATime.Dispose();

    /// <summary>
    /// Takes a backup, verifies it (restore-testing it when due), records the result and prunes old backups. One at a
    /// time per instance: a second request while one runs gets <see cref="BackupInProgressException"/> at once.
    /// </summary>
    public async Task<BackupManifest> CreateAsync(IProgress<string>? progress, CancellationToken cancellationToken)
    {
        if (!await _oneAtATime.WaitAsync(0, cancellationToken)) throw new BackupInProgressException();
        try
        {
            return await CreateNowAsync(progress, cancellationToken);
        }
        finally
        {
            _oneAtATime.Release();
        }
    }

    async Task<BackupManifest> CreateNowAsync(IProgress<string>? progress, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(Folder);
        var started = Stopwatch.GetTimestamp();
        var id = "backup-" + time.GetUtcNow().ToString("yyyyMMdd'T'HHmmssfff'Z'", System.Globalization.CultureInfo.InvariantCulture);
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<AgentryDbContext>();
        progress?.Report($"Backing up the {(db.IsSqlite() ? "SQLite" : "PostgreSQL")} database to {Folder}");
        BackupManifest manifest;
        try
        {
            manifest = db.IsSqlite()
                ? await BackUpSqliteAsync(db, id, progress, cancellationToken)
                : await BackUpPostgresAsync(db, id, progress, cancellationToken);
        }
        catch (Exception e)
        {
            // Nothing half-written stays in the folder: a file without a manifest is not a backup.
            foreach (var leftover in Directory.GetFiles(Folder, id + ".*")) TryDelete(leftover);
            if (e is not OperationCanceledException)
                await audit.RecordAsync(db, AuditActor.System, AuditActions.BackupFailed, $"backup:{id}", "failure", new { error = e.Message }, cancellationToken: CancellationToken.None);
            throw;
        }
        manifest = manifest with { DurationMs = (long)Stopwatch.GetElapsedTime(started).TotalMilliseconds };
        var restoreTest = options.Value.RestoreTestEvery > 0 && List().Count % options.Value.RestoreTestEvery == 0;
        try
        {
            manifest = manifest with { Verification = await VerifyAsync(manifest, restoreTest, progress, cancellationToken) };
        }
        catch (OperationCanceledException)
        {
            TryDelete(Path.Combine(Folder, manifest.File));
            throw;
        }
        await WriteManifestAsync(manifest);
        var rows = manifest.RowCounts.Values.Sum();
        await audit.RecordAsync(db, AuditActor.System, manifest.Verification.Ok ? AuditActions.BackupCreated : AuditActions.BackupFailed, $"backup:{id}",
            manifest.Verification.Ok ? "success" : "failure",
            new { manifest.File, manifest.SizeBytes, manifest.SchemaVersion, rows, manifest.Verification }, cancellationToken: CancellationToken.None);
        LogBackedUp(id, manifest.SizeBytes, rows, manifest.Verification.Ok, manifest.Verification.Detail);
        Prune();
        return manifest;
    }

    async Task<BackupManifest> BackUpSqliteAsync(AgentryDbContext db, string id, IProgress<string>? progress, CancellationToken cancellationToken)
    {
        var file = id + ".db";
        var path = Path.Combine(Folder, file);
        var partial = path + ".partial";
        await using (var source = new SqliteConnection(db.Database.GetConnectionString()))
        await using (var target = new SqliteConnection($"Data Source={partial};Pooling=False"))
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
        File.Move(partial, path);
        progress?.Report($"Copied {new FileInfo(path).Length / 1024} KiB; reading it back");
        var (schema, counts, checksums) = await FingerprintSqliteAsync(db, path, progress, cancellationToken);
        return new BackupManifest(id, time.GetUtcNow(), DataOptions.Sqlite, schema, file, new FileInfo(path).Length, await Sha256Async(path, cancellationToken),
            counts, checksums, 0);
    }

    static async Task<(string Schema, Dictionary<string, long> Counts, Dictionary<string, string> Checksums)> FingerprintSqliteAsync(
        AgentryDbContext db, string path, IProgress<string>? progress, CancellationToken cancellationToken)
    {
        await using var connection = new SqliteConnection($"Data Source={path};Mode=ReadOnly;Pooling=False");
        await connection.OpenAsync(cancellationToken);
        var schema = await TableFingerprint.SchemaVersionAsync(connection, cancellationToken);
        var (counts, checksums) = await TableFingerprint.ReadAsync(connection, TableFingerprint.Tables(db), progress, cancellationToken);
        return (schema, counts, checksums);
    }

    async Task<BackupManifest> BackUpPostgresAsync(AgentryDbContext db, string id, IProgress<string>? progress, CancellationToken cancellationToken)
    {
        var file = id + ".sql";
        var path = Path.Combine(Folder, file);
        var partial = path + ".partial";
        var connectionString = db.Database.GetConnectionString()!;
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        // The dump and the manifest read the same snapshot: the transaction stays open until pg_dump is done.
        await using var transaction = await connection.BeginTransactionAsync(IsolationLevel.RepeatableRead, cancellationToken);
        await using var export = new NpgsqlCommand("SELECT pg_export_snapshot()", connection, transaction);
        var snapshot = (string)(await export.ExecuteScalarAsync(cancellationToken))!;
        var schema = await TableFingerprint.SchemaVersionAsync(connection, cancellationToken, transaction);
        var (counts, checksums) = await TableFingerprint.ReadAsync(connection, TableFingerprint.Tables(db), progress, cancellationToken, transaction);
        progress?.Report("Running pg_dump");
        await RunAsync(Tool("pg_dump"), ["--snapshot", snapshot, "--format=plain", "--no-owner", "--no-privileges", "--file", partial], connectionString, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        File.Move(partial, path);
        return new BackupManifest(id, time.GetUtcNow(), DataOptions.Postgres, schema, file, new FileInfo(path).Length, await Sha256Async(path, cancellationToken),
            counts, checksums, 0);
    }

    /// <summary>Checksum and integrity; with <paramref name="restoreTest"/> a restore into a temporary database compared with the manifest.</summary>
    public async Task<BackupVerification> VerifyAsync(BackupManifest manifest, bool restoreTest, IProgress<string>? progress, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var path = Path.Combine(Folder, manifest.File);
        if (!File.Exists(path)) return new BackupVerification(now, false, false, $"{manifest.File} is missing.");
        if (await Sha256Async(path, cancellationToken) != manifest.Sha256) return new BackupVerification(now, false, false, "The file's checksum does not match its manifest.");
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<AgentryDbContext>();
        try
        {
            if (manifest.Provider == DataOptions.Sqlite)
            {
                // For SQLite a restore is a copy of the file: reading the copy back is the restore test.
                var copy = Path.Combine(Path.GetTempPath(), $"agentry-verify-{Guid.NewGuid():N}.db");
                File.Copy(path, copy);
                try
                {
                    await using (var connection = new SqliteConnection($"Data Source={copy};Pooling=False"))
                    {
                        await connection.OpenAsync(cancellationToken);
                        await using var check = connection.CreateCommand();
                        check.CommandText = "PRAGMA integrity_check";
                        if ((string?)await check.ExecuteScalarAsync(cancellationToken) is not "ok") return new BackupVerification(now, false, false, "SQLite's integrity check failed.");
                    }
                    var (_, counts, checksums) = await FingerprintSqliteAsync(db, copy, null, cancellationToken);
                    return Compare(manifest, counts, checksums, restoreTested: true);
                }
                finally
                {
                    File.Delete(copy);
                }
            }
            if (!restoreTest) return new BackupVerification(now, true, false, "Checksum matches; restore test not due.");
            progress?.Report("Restore test into a temporary database");
            var temporary = $"agentry_verify_{Guid.NewGuid():N}";
            await CreatePostgresDatabaseAsync(db, temporary, cancellationToken);
            try
            {
                var restored = WithDatabase(db.Database.GetConnectionString()!, temporary);
                await RunAsync(Tool("psql"), ["--quiet", "--set", "ON_ERROR_STOP=1", "--file", path], restored, cancellationToken);
                var (counts, checksums) = await FingerprintPostgresAsync(db, restored, cancellationToken);
                return Compare(manifest, counts, checksums, restoreTested: true);
            }
            finally
            {
                await DropPostgresDatabaseAsync(db, temporary);
            }
        }
        catch (Exception e) when (e is InvalidOperationException or System.Data.Common.DbException or IOException or System.ComponentModel.Win32Exception)
        {
            return new BackupVerification(now, false, false, $"Could not verify: {e.Message}");
        }
    }

    BackupVerification Compare(BackupManifest manifest, Dictionary<string, long> counts, Dictionary<string, string> checksums, bool restoreTested)
    {
        var now = time.GetUtcNow();
        foreach (var (table, expected) in manifest.RowCounts)
        {
            if (counts.GetValueOrDefault(table) != expected) return new BackupVerification(now, false, restoreTested, $"Table {table}: {counts.GetValueOrDefault(table)} row(s), manifest says {expected}.");
            if (checksums.GetValueOrDefault(table) != manifest.TableChecksums.GetValueOrDefault(table)) return new BackupVerification(now, false, restoreTested, $"Table {table}: content differs from the manifest.");
        }
        return new BackupVerification(now, true, restoreTested, $"Restored copy matches the manifest: {manifest.RowCounts.Count} tables, {manifest.RowCounts.Values.Sum()} rows.");
    }

    static async Task<(Dictionary<string, long> Counts, Dictionary<string, string> Checksums)> FingerprintPostgresAsync(AgentryDbContext db, string connectionString, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        return await TableFingerprint.ReadAsync(connection, TableFingerprint.Tables(db), null, cancellationToken);
    }

    /// <summary>
    /// Restores a backup in place of the current database: checksum and schema version checked first, restored into a
    /// new file or database, verified against the manifest, and only then switched in (the previous database is kept,
    /// renamed). Run with every instance stopped.
    /// </summary>
    public async Task<BackupManifest> RestoreAsync(string idOrFile, IProgress<string>? progress, CancellationToken cancellationToken)
    {
        var manifest = List().FirstOrDefault(m => m.Id == idOrFile || m.File == Path.GetFileName(idOrFile))
            ?? throw new InvalidOperationException($"No backup '{idOrFile}' in {Folder}.");
        var path = Path.Combine(Folder, manifest.File);
        progress?.Report($"Checking {manifest.File}");
        if (!File.Exists(path) || await Sha256Async(path, cancellationToken) != manifest.Sha256)
            throw new InvalidOperationException($"Refusing to restore {manifest.Id}: its file is missing or its checksum does not match the manifest.");

        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<AgentryDbContext>();
        var known = db.Database.GetMigrations().ToList();
        if (!known.Contains(manifest.SchemaVersion))
            throw new InvalidOperationException($"Refusing to restore {manifest.Id}: its schema version {manifest.SchemaVersion} is unknown to this build (latest {known.LastOrDefault()}); restore it with the build that made it.");
        if ((manifest.Provider == DataOptions.Sqlite) != db.IsSqlite())
            throw new InvalidOperationException($"Refusing to restore {manifest.Id}: it is a {manifest.Provider} backup and this service uses {(db.IsSqlite() ? "SQLite" : "PostgreSQL")}.");

        var stamp = time.GetUtcNow().ToString("yyyyMMdd'T'HHmmss'Z'", System.Globalization.CultureInfo.InvariantCulture);
        string kept;
        if (db.IsSqlite())
        {
            var live = new SqliteConnectionStringBuilder(db.Database.GetConnectionString()).DataSource;
            var restoring = $"{live}.restoring";
            File.Copy(path, restoring, overwrite: true);
            var (_, counts, checksums) = await FingerprintSqliteAsync(db, restoring, progress, cancellationToken);
            if (Compare(manifest, counts, checksums, true) is { Ok: false } mismatch)
            {
                SqliteConnection.ClearAllPools();
                TryDelete(restoring);
                throw new InvalidOperationException($"The restored copy does not match: {mismatch.Detail}");
            }
            SqliteConnection.ClearAllPools();
            kept = $"{live}.before-restore-{stamp}";
            if (File.Exists(live)) File.Move(live, kept);
            foreach (var sidecar in new[] { "-wal", "-shm" }) if (File.Exists(live + sidecar)) File.Move(live + sidecar, kept + sidecar);
            File.Move(restoring, live);
        }
        else
        {
            var connectionString = db.Database.GetConnectionString()!;
            var name = new NpgsqlConnectionStringBuilder(connectionString).Database!;
            var restoring = $"{name}_restoring_{stamp}".ToLowerInvariant();
            kept = $"{name}_before_restore_{stamp}".ToLowerInvariant();
            var renamed = false;
            try
            {
                await CreatePostgresDatabaseAsync(db, restoring, cancellationToken);
                var restoredConnection = WithDatabase(connectionString, restoring);
                progress?.Report($"Loading {manifest.File} into {restoring}");
                await RunAsync(Tool("psql"), ["--quiet", "--set", "ON_ERROR_STOP=1", "--file", path], restoredConnection, cancellationToken);
                var (counts, checksums) = await FingerprintPostgresAsync(db, restoredConnection, cancellationToken);
                if (Compare(manifest, counts, checksums, true) is { Ok: false } mismatch)
                    throw new InvalidOperationException($"The restored copy does not match: {mismatch.Detail}");
                NpgsqlConnection.ClearAllPools();
                await AdminAsync(db, $"ALTER DATABASE \"{name}\" RENAME TO \"{kept}\"", cancellationToken);
                renamed = true;
                await AdminAsync(db, $"ALTER DATABASE \"{restoring}\" RENAME TO \"{name}\"", CancellationToken.None);
            }
            catch (Exception e) when (e is InvalidOperationException or PostgresException or OperationCanceledException)
            {
                // Leave things as they were: the live database under its name, no half-loaded copy.
                if (renamed) await TryAdminAsync(db, $"ALTER DATABASE \"{kept}\" RENAME TO \"{name}\"");
                await DropPostgresDatabaseAsync(db, restoring);
                if (e is PostgresException postgres)
                    throw new InvalidOperationException($"Restore of {manifest.Id} stopped, nothing changed: {postgres.MessageText} " +
                        "(stop every instance first; the database user must own the database and may create databases).", e);
                throw;
            }
        }
        progress?.Report($"Restored {manifest.Id}; the previous database is kept as {Path.GetFileName(kept)}");
        await using var after = scopes.CreateAsyncScope();
        await audit.RecordAsync(after.ServiceProvider.GetRequiredService<AgentryDbContext>(), AuditActor.System, AuditActions.BackupRestored, $"backup:{manifest.Id}", "success",
            new { manifest.File, manifest.SchemaVersion, previous = Path.GetFileName(kept) }, cancellationToken: CancellationToken.None);
        return manifest;
    }

    /// <summary>Keeps the newest <see cref="BackupOptions.Retention"/> verified backups and, for diagnosis, the newest failed one.</summary>
    void Prune()
    {
        var all = List();
        var expired = all.Where(m => m.Verification is { Ok: true }).Skip(options.Value.Retention)
            .Concat(all.Where(m => m.Verification is not { Ok: true }).Skip(1));
        foreach (var old in expired)
        {
            TryDelete(Path.Combine(Folder, old.File));
            TryDelete(Path.Combine(Folder, old.Id + ".manifest.json"));
        }
    }

    async Task WriteManifestAsync(BackupManifest manifest)
    {
        var path = Path.Combine(Folder, manifest.Id + ".manifest.json");
        await File.WriteAllTextAsync(path + ".partial", JsonSerializer.Serialize(manifest, BackupManifest.Json));
        File.Move(path + ".partial", path, overwrite: true);
    }

    static async Task<string> Sha256Async(string path, CancellationToken cancellationToken)
    {
        await using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(await SHA256.HashDataAsync(stream, cancellationToken));
    }

    static void TryDelete(string path)
    {
        try { File.Delete(path); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    // PostgreSQL helpers: databases are created and renamed from the maintenance database, with the service's own credentials.

    static Task CreatePostgresDatabaseAsync(AgentryDbContext db, string name, CancellationToken cancellationToken) =>
        AdminAsync(db, $"CREATE DATABASE \"{name}\"", cancellationToken);

    static async Task DropPostgresDatabaseAsync(AgentryDbContext db, string name)
    {
        NpgsqlConnection.ClearAllPools();
        try { await AdminAsync(db, $"DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)", CancellationToken.None); }
        catch (PostgresException) { } // left behind, named for what it was; never fatal
    }

    static async Task AdminAsync(AgentryDbContext db, string sql, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(WithDatabase(db.Database.GetConnectionString()!, "postgres"));
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    static async Task TryAdminAsync(AgentryDbContext db, string sql)
    {
        try { await AdminAsync(db, sql, CancellationToken.None); }
        catch (PostgresException) { } // the error that brought us here is the one to report
    }

    static string WithDatabase(string connectionString, string database) =>
        new NpgsqlConnectionStringBuilder(connectionString) { Database = database, Pooling = false }.ConnectionString;

    string Tool(string name)
    {
        if (options.Value.PostgresBinDirectory is { Length: > 0 } folder) return Path.Combine(folder, name);
        var onPath = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator).Select(p => Path.Combine(p, name)).FirstOrDefault(File.Exists);
        return onPath ?? throw new InvalidOperationException($"{name} was not found on the PATH; install the PostgreSQL client (apt-get install postgresql-client) or set Backup:PostgresBinDirectory.");
    }

    /// <summary>Runs pg_dump or psql against a database, passing the connection through libpq's environment variables (the password never on a command line).</summary>
    static async Task RunAsync(string program, IEnumerable<string> arguments, string connectionString, CancellationToken cancellationToken)
    {
        var connection = new NpgsqlConnectionStringBuilder(connectionString);
        var start = new ProcessStartInfo(program) { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        start.Environment["PGHOST"] = connection.Host;
        start.Environment["PGPORT"] = connection.Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        start.Environment["PGDATABASE"] = connection.Database;
        if (connection.Username is { } user) start.Environment["PGUSER"] = user;
        if (connection.Password is { } password) start.Environment["PGPASSWORD"] = password;
        if (LibpqSslMode(connection.SslMode) is { } sslMode) start.Environment["PGSSLMODE"] = sslMode;
        if (connection.RootCertificate is { Length: > 0 } rootCertificate) start.Environment["PGSSLROOTCERT"] = rootCertificate;
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{program} did not start.");
        var errors = process.StandardError.ReadToEndAsync(CancellationToken.None);
        _ = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
        try
        {
            await process.WaitForExitAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            // Stopping: do not leave pg_dump or psql running on their own.
            process.Kill(entireProcessTree: true);
            throw;
        }
        if (process.ExitCode != 0) throw new InvalidOperationException($"{Path.GetFileName(program)} failed ({process.ExitCode}): {(await errors).Trim()}");
    }

    /// <summary>Npgsql's SSL mode in libpq's words (<c>VerifyFull</c> is <c>verify-full</c>); null leaves libpq's default.</summary>
    static string? LibpqSslMode(SslMode mode) => mode switch
    {
        SslMode.Disable => "disable",
        SslMode.Allow => "allow",
        SslMode.Prefer => "prefer",
        SslMode.Require => "require",
        SslMode.VerifyCA => "verify-ca",
        SslMode.VerifyFull => "verify-full",
        _ => null,
    };

    [LoggerMessage(EventId = 8100, Level = LogLevel.Information, Message = "Backup {Id}: {Bytes} bytes, {Rows} rows, verified {Verified} ({Detail})")]
    partial void LogBackedUp(string id, long bytes, long rows, bool verified, string detail);

    [LoggerMessage(EventId = 8101, Level = LogLevel.Warning, Message = "Backup manifest {File} cannot be read")]
    partial void LogUnreadableManifest(Exception exception, string file);
}

/// <summary>A backup is already being taken by this instance.</summary>
public sealed class BackupInProgressException() : InvalidOperationException("A backup is being taken right now; try again when it is done.");
