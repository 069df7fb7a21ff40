using System.Data.Common;
using System.Runtime.CompilerServices;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace Agentry.Data;

/// <summary>
/// Per-connection SQLite settings, applied once to each physical connection (SQLite keeps them per connection, and
/// the pool hands the same one out again; running them on every open was a statement prepared and run two or three
/// times a turn):
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

    // The native handles of the connections already set up: a pooled connection keeps its handle from open to open, a
    // new physical connection has a new one (and a closed one's entry goes with its handle).
    static readonly ConditionalWeakTable<SQLitePCL.sqlite3, object> Configured = new();

    public override void ConnectionOpened(DbConnection connection, ConnectionEndEventData eventData)
    {
        if (IsConfigured(connection, out var handle)) return;
        using var command = Pragmas(connection);
        command.ExecuteNonQuery();
        Configured.AddOrUpdate(handle, Marker);
    }

    public override async Task ConnectionOpenedAsync(DbConnection connection, ConnectionEndEventData eventData, CancellationToken cancellationToken = default)
    {
        if (IsConfigured(connection, out var handle)) return;
        await using var command = Pragmas(connection);
        await command.ExecuteNonQueryAsync(cancellationToken);
        Configured.AddOrUpdate(handle, Marker);
    }

    static readonly object Marker = new();

    static bool IsConfigured(DbConnection connection, out SQLitePCL.sqlite3 handle)
    {
        handle = ((SqliteConnection)connection).Handle!;
        return Configured.TryGetValue(handle, out _);
    }

    DbCommand Pragmas(DbConnection connection)
    {
        var command = connection.CreateCommand();
        command.CommandText = _pragmas;
        return command;
    }
}
