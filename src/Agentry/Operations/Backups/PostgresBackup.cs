using System.Data;
using System.Diagnostics;
using Agentry.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Agentry.Operations.Backups;

/// <summary>
/// PostgreSQL: <c>pg_dump</c> reads a snapshot exported by a repeatable-read transaction, in which the manifest's row
/// counts and table checksums are computed too, so manifest and dump describe the same moment. Restore tests and
/// restores load the dump with <c>psql</c> into a new database; databases are created and renamed from the maintenance
/// database, with the service's own credentials.
/// </summary>
public sealed class PostgresBackup(IOptions<BackupOptions> options) : IDatabaseBackup
{
    public string Provider => DataOptions.Postgres;
    public string Extension => ".sql";
    public bool RestoreTestsEveryBackup => false;

    public async Task<BackupSnapshot> BackUpAsync(AgentryDbContext db, string path, IProgress<string>? progress, CancellationToken cancellationToken)
    {
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
        await RunAsync(Tool("pg_dump"), ["--snapshot", snapshot, "--format=plain", "--no-owner", "--no-privileges", "--file", path], connectionString, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return new BackupSnapshot(schema, counts, checksums);
    }

    public async Task<BackupSnapshot> RestoreTestAsync(AgentryDbContext db, string path, IProgress<string>? progress, CancellationToken cancellationToken)
    {
        progress?.Report("Restore test into a temporary database");
        var temporary = $"agentry_verify_{Guid.NewGuid():N}";
        await AdminAsync(db, $"CREATE DATABASE \"{temporary}\"", cancellationToken);
        try
        {
            var restored = WithDatabase(db.Database.GetConnectionString()!, temporary);
            await RunAsync(Tool("psql"), ["--quiet", "--set", "ON_ERROR_STOP=1", "--file", path], restored, cancellationToken);
            return await ReadAsync(db, restored, cancellationToken);
        }
        finally
        {
            await DropAsync(db, temporary);
        }
    }

    public async Task<string> RestoreAsync(AgentryDbContext db, string path, Func<BackupSnapshot, string?> matches, string stamp, IProgress<string>? progress,
        CancellationToken cancellationToken)
    {
        var connectionString = db.Database.GetConnectionString()!;
        var name = new NpgsqlConnectionStringBuilder(connectionString).Database!;
        var restoring = $"{name}_restoring_{stamp}".ToLowerInvariant();
        var kept = $"{name}_before_restore_{stamp}".ToLowerInvariant();
        var renamed = false;
        try
        {
            await AdminAsync(db, $"CREATE DATABASE \"{restoring}\"", cancellationToken);
            var restoredConnection = WithDatabase(connectionString, restoring);
            progress?.Report($"Loading the backup into {restoring}");
            await RunAsync(Tool("psql"), ["--quiet", "--set", "ON_ERROR_STOP=1", "--file", path], restoredConnection, cancellationToken);
            if (matches(await ReadAsync(db, restoredConnection, cancellationToken)) is { } mismatch)
                throw new InvalidOperationException($"The restored copy does not match: {mismatch}");
            NpgsqlConnection.ClearAllPools();
            await AdminAsync(db, $"ALTER DATABASE \"{name}\" RENAME TO \"{kept}\"", cancellationToken);
            renamed = true;
            await AdminAsync(db, $"ALTER DATABASE \"{restoring}\" RENAME TO \"{name}\"", CancellationToken.None);
            return kept;
        }
        catch (Exception e) when (e is InvalidOperationException or PostgresException or OperationCanceledException)
        {
            // Leave things as they were: the live database under its name, no half-loaded copy.
            if (renamed) await TryAdminAsync(db, $"ALTER DATABASE \"{kept}\" RENAME TO \"{name}\"");
            await DropAsync(db, restoring);
            if (e is PostgresException postgres)
                throw new InvalidOperationException($"The restore stopped, nothing changed: {postgres.MessageText} " +
                    "(stop every instance first; the database user must own the database and may create databases).", e);
            throw;
        }
    }

    static async Task<BackupSnapshot> ReadAsync(AgentryDbContext db, string connectionString, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        var schema = await TableFingerprint.SchemaVersionAsync(connection, cancellationToken);
        var (counts, checksums) = await TableFingerprint.ReadAsync(connection, TableFingerprint.Tables(db), null, cancellationToken);
        return new BackupSnapshot(schema, counts, checksums);
    }

    static async Task DropAsync(AgentryDbContext db, string name)
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
}
