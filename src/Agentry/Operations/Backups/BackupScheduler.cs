using Agentry.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Agentry.Operations.Backups;

/// <summary>
/// Takes a backup every <see cref="BackupOptions.Interval"/> after the last one (soon after start when there is none).
/// With several instances on PostgreSQL one of them does it: each round starts by taking a PostgreSQL advisory lock,
/// and a backup that another instance wrote to the shared folder meanwhile counts as this round's.
/// </summary>
public sealed partial class BackupScheduler(Backups backups, IOptions<BackupOptions> options, IServiceScopeFactory scopes, TimeProvider time,
    ILogger<BackupScheduler> logger) : BackgroundService
{
    static readonly TimeSpan FirstBackupDelay = TimeSpan.FromSeconds(30);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!options.Value.Scheduled) return;
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                await Task.Delay(UntilDue(), time, stoppingToken);
                if (UntilDue() > TimeSpan.Zero) continue; // another instance backed up meanwhile
                try
                {
                    await using var turn = await TakeTurnAsync(stoppingToken);
                    if (turn is not null && UntilDue() <= TimeSpan.Zero)
                    {
                        var manifest = await backups.CreateAsync(null, stoppingToken);
                        // Recorded as backup.failed and logged (8100); try again later rather than at once.
                        if (manifest.Verification is not { Ok: true }) await Task.Delay(RetryDelay, time, stoppingToken);
                    }
                    else await Task.Delay(TimeSpan.FromMinutes(1), time, stoppingToken); // someone else is at it
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    LogFailed(e); // audited as backup.failed; the stale-backup alert tells if it keeps failing
                    await Task.Delay(RetryDelay, time, stoppingToken);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    TimeSpan RetryDelay => TimeSpan.FromMinutes(5) < options.Value.Interval ? TimeSpan.FromMinutes(5) : options.Value.Interval;

    /// <summary>From the newest verified backup: a failed one does not put the next attempt off by a whole interval.</summary>
    TimeSpan UntilDue()
    {
        BackupManifest? last;
        try
        {
            last = backups.LastVerified;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            LogFailed(e); // the folder is unreadable (a shared volume away): try again in a while, never stop the service
            return TimeSpan.FromMinutes(5);
        }
        var due = last is not null ? last.CreatedAt + options.Value.Interval - time.GetUtcNow() : FirstBackupDelay;
        return due > TimeSpan.Zero ? due : TimeSpan.Zero;
    }

    /// <summary>An open connection holding the backup lock (PostgreSQL), an empty token (SQLite: one instance), or null when another instance holds it.</summary>
    async Task<IAsyncDisposable?> TakeTurnAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<AgentryDbContext>();
        if (db.IsSqlite()) return NoLock.Instance; // one instance: nothing to coordinate
        var connection = new NpgsqlConnection(db.Database.GetConnectionString());
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand($"SELECT pg_try_advisory_lock({(long)SharedLock.Backup})", connection);
        if ((bool)(await command.ExecuteScalarAsync(cancellationToken))!) return connection; // released when the connection closes
        await connection.DisposeAsync();
        return null;
    }

    sealed class NoLock : IAsyncDisposable
    {
        public static readonly NoLock Instance = new();
        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    [LoggerMessage(EventId = 8102, Level = LogLevel.Error, Message = "Scheduled backup failed; trying again later")]
    partial void LogFailed(Exception exception);
}
