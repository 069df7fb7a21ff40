using System.ComponentModel.DataAnnotations;
using Npgsql;

namespace Agentry.Data;

public sealed class DataOptions
{
    public const string Section = "Data";
    public const string Sqlite = "sqlite";
    public const string Postgres = "postgres";

    /// <summary>
    /// <c>sqlite</c> (the zero-set-up default: one file in <see cref="Directory"/>) or <c>postgres</c> (for several
    /// instances). When empty, a PostgreSQL connection string (URL or keywords) selects <c>postgres</c>.
    /// </summary>
    [RegularExpression("^(sqlite|postgres)$", ErrorMessage = "Data:Provider must be 'sqlite' or 'postgres'.")]
    public string? Provider { get; set; }

    /// <summary>Folder for the SQLite database, backups and other local state; relative paths start at the content root. Alias: AGENTRY_DATA_DIR.</summary>
    public string Directory { get; set; } = "data";

    /// <summary>
    /// SQLite: a full connection string, overriding <see cref="Directory"/>. PostgreSQL: keywords
    /// (<c>Host=…;Database=…;Username=…;Password=…</c>) or a URL (<c>postgres://user:password@host:5432/db</c>). Alias: DATABASE_URL.
    /// </summary>
    public string? ConnectionString { get; set; }

    /// <summary>
    /// Empty (the default): a new database is created at start, and pending migrations are applied at start except in
    /// Production, where an existing database waits for <c>agentry migrate</c> (the service refuses to start until then).
    /// <c>true</c>: always migrate at start. <c>false</c>: never (readiness stays 503 until the schema is current).
    /// </summary>
    public bool? MigrateOnStartup { get; set; }

    /// <summary>
    /// SQLite's <c>synchronous</c> setting: <c>NORMAL</c> (default; with WAL, acknowledged writes survive a killed process,
    /// a power cut may lose the last ones) or <c>FULL</c> (a sync per commit: survives a power cut, costs throughput).
    /// </summary>
    [RegularExpression("^(NORMAL|FULL)$", ErrorMessage = "Must be NORMAL or FULL.")]
    public string SqliteSynchronous { get; set; } = "NORMAL";

    public string EffectiveProvider => Provider ?? (LooksLikePostgres(ConnectionString) ? Postgres : Sqlite);

    /// <summary>The data folder as an absolute path: relative settings start at the content root.</summary>
    public string FullDirectory(string contentRoot) => Path.GetFullPath(Path.Combine(contentRoot, Directory));

    /// <summary>The PostgreSQL connection string in Npgsql's keyword form, whichever form was configured.</summary>
    public string PostgresConnectionString()
    {
        var configured = ConnectionString ?? throw new InvalidOperationException("Data:ConnectionString (or DATABASE_URL) is required when Data:Provider is 'postgres'.");
        if (!Uri.TryCreate(configured, UriKind.Absolute, out var url) || url.Scheme is not ("postgres" or "postgresql")) return configured;
        var builder = new NpgsqlConnectionStringBuilder
        {
            Host = url.Host, Port = url.IsDefaultPort || url.Port < 0 ? 5432 : url.Port, Database = Uri.UnescapeDataString(url.AbsolutePath.TrimStart('/')),
        };
        if (url.UserInfo.Split(':', 2) is [var user, ..] && user.Length > 0) builder.Username = Uri.UnescapeDataString(user);
        if (url.UserInfo.Split(':', 2) is [_, var password]) builder.Password = Uri.UnescapeDataString(password);
        // Query parameters are Npgsql keywords as most platforms write them (sslmode=require, …).
        foreach (var pair in url.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
            if (pair.Split('=', 2) is [var key, var value]) builder[Uri.UnescapeDataString(key)] = Uri.UnescapeDataString(value);
        return builder.ConnectionString;
    }

    static bool LooksLikePostgres(string? connectionString) =>
        connectionString is not null
        && (connectionString.StartsWith("postgres://", StringComparison.OrdinalIgnoreCase) || connectionString.StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase)
            || connectionString.Contains("Host=", StringComparison.OrdinalIgnoreCase));
}
