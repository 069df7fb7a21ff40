using Microsoft.Extensions.Options;

namespace Agentry.Operations;

/// <summary>
/// Turns what stops the service from starting (a bad setting, a broken agent file, a data folder it cannot use, an address
/// in use) into one line for the operator that names the setting or file — not an unhandled-exception stack trace.
/// </summary>
public static class StartupFailure
{
    /// <summary>The message for an expected start-up failure; null for anything else (a bug keeps its stack trace).</summary>
    public static string? Describe(Exception exception) => Unwrap(exception) switch
    {
        OptionsValidationException invalid => "Invalid setting: " + string.Join(" ", invalid.Failures),
        StartupException startup => startup.Message,
        IOException { InnerException: Microsoft.AspNetCore.Connections.AddressInUseException, Message: var m } =>
            $"Cannot listen: {m} (set ASPNETCORE_URLS or --urls to a free address).",
        UnauthorizedAccessException or DirectoryNotFoundException or IOException { InnerException: not System.Net.Sockets.SocketException } when exception is not null =>
            $"Cannot use the data folder or a file it needs: {Unwrap(exception).Message}",
        IOException { Message: var m } => $"Cannot listen: {m} (set ASPNETCORE_URLS or --urls to a free address).",
        Microsoft.Data.Sqlite.SqliteException sqlite => $"Cannot open the database: {sqlite.Message} (check Data:Directory / AGENTRY_DATA_DIR).",
        Agentry.Data.PendingMigrationsException pending => pending.Message,
        Npgsql.NpgsqlException postgres => $"Cannot use the PostgreSQL database: {postgres.Message} (check Data:ConnectionString / DATABASE_URL).",
        _ => null,
    };

    static Exception Unwrap(Exception exception) =>
        exception is AggregateException { InnerExceptions.Count: > 0 } aggregate ? Unwrap(aggregate.InnerExceptions[0]) : exception;
}
