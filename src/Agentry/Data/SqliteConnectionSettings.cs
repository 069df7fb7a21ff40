using System.Data.Common;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace Agentry.Data;

/// <summary>
/// Per-connection SQLite settings, applied each time a pooled connection opens (SQLite keeps them per connection):
/// <list type="bullet">
/// <item><c>busy_timeout</c>: a writer that finds the database locked waits inside SQLite, which retries within
/// milliseconds; without it Microsoft.Data.Sqlite sees SQLITE_BUSY and sleeps 150 ms before trying again, which is where
/// the 0.2–0.8 s stalls of concurrent turns came from.</item>
/// <item><c>synchronous=NORMAL</c> (with WAL): a commit is durable once it is in the write-ahead log; the log is synced at
/// checkpoints, not at every commit. A killed process loses nothing it acknowledged (the log is in the OS's page
/// cache); a power cut or kernel crash can lose the last commits before a checkpoint. <see cref="DataOptions.SqliteSynchronous"/>
/// sets <c>FULL</c> for one sync per commit.</item>
/// </list>
/// </summary>
public sealed class SqliteConnectionSettings(string synchronous) : DbConnectionInterceptor
{
    /// <summary>Also for connections opened outside EF (the backup's source), which this interceptor never sees.</summary>
    public const string BusyTimeout = "PRAGMA busy_timeout = 30000;";

    readonly string _pragmas = $"{BusyTimeout} PRAGMA synchronous = {synchronous};";

    public override void ConnectionOpened(DbConnection connection, ConnectionEndEventData eventData)
    {
        using var command = Pragmas(connection);
        command.ExecuteNonQuery();
    }

    public override async Task ConnectionOpenedAsync(DbConnection connection, ConnectionEndEventData eventData, CancellationToken cancellationToken = default)
    {
        await using var command = Pragmas(connection);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    DbCommand Pragmas(DbConnection connection)
    {
        var command = connection.CreateCommand();
        command.CommandText = _pragmas;
        return command;
    }
}
