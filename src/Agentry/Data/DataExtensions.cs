using Agentry.Operations;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using Microsoft.Extensions.Options;

namespace Agentry.Data;

/// <summary>What several instances must not change at the same moment (values are PostgreSQL advisory-lock keys).</summary>
public enum SharedLock : long
{
    /// <summary>Appending to the audit hash chain: two writers reading the same head would fork it.</summary>
    AuditChain = 720100,
    /// <summary>Merging in-memory analytics counts into the daily rows.</summary>
    Analytics = 720101,
    /// <summary>Merging error occurrences into their groups.</summary>
    ErrorGroups = 720102,
    /// <summary>Creating the first admin key when instances start together.</summary>
    Bootstrap = 720103,
    /// <summary>Applying migrations: one instance at a time.</summary>
    Migrations = 720105,
    /// <summary>Taking the scheduled backup: one instance at a time.</summary>
    Backup = 720104,
    /// <summary>Checking a tool call against its policy's totals and reserving it (one lock per tool name).</summary>
    ToolCalls = 720106,
}

public static class DataExtensions
{
    public static IHostApplicationBuilder AddData(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<DataOptions>().BindSettings(DataOptions.Section).ValidateOnStart();
        builder.Services.AddOptions<RedisOptions>().BindSettings(RedisOptions.Section)
            .Validate(o => o.OnFailure is null or RedisOptions.Refuse or RedisOptions.Local, "Redis:OnFailure must be 'refuse' or 'local'.").ValidateOnStart();
        builder.Services.AddSingleton<SharedState>();
        // The provider is chosen once, from configuration, before the host is built: each has its own context type and migrations.
        var options = builder.Configuration.GetSection(DataOptions.Section).Get<DataOptions>() ?? new DataOptions();
        if (options.EffectiveProvider == DataOptions.Postgres)
            builder.Services.AddDbContextPool<AgentryDbContext, PostgresAgentryDbContext>((services, db) => db
                .UseNpgsql(services.GetRequiredService<IOptions<DataOptions>>().Value.PostgresConnectionString())
                .UseSnakeCaseNamingConvention()
                .AddInterceptors(services.GetRequiredService<Audit.AuditOutboxInterceptor>()));
        else
            builder.Services.AddDbContextPool<AgentryDbContext, SqliteAgentryDbContext>((services, db) => db
                .UseSqlite(SqliteConnectionString(services.GetRequiredService<IOptions<DataOptions>>().Value, services.GetRequiredService<IHostEnvironment>().ContentRootPath))
                .UseSnakeCaseNamingConvention()
                .AddInterceptors(services.GetRequiredService<Audit.AuditOutboxInterceptor>(),
                    new SqliteConnectionSettings(services.GetRequiredService<IOptions<DataOptions>>().Value.SqliteSynchronous)));
        return builder;
    }

    public static bool IsSqlite(this AgentryDbContext db) => db is SqliteAgentryDbContext;

    /// <summary>
    /// The migrations this database has applied. Npgsql's provider reads its history table without checking that the
    /// table exists, and logs the failed read of a new database as an error (npgsql/efcore.pg#3407): a first start, or
    /// every readiness probe until the migration job has run, would log "Failed executing DbCommand". So on PostgreSQL a
    /// database without the table is answered here as having applied none, without reading it.
    /// </summary>
    public static async Task<IReadOnlyList<string>> AppliedMigrationsAsync(this AgentryDbContext db, CancellationToken cancellationToken)
    {
        if (!db.IsSqlite() && !await db.Database.SqlQuery<bool>($"SELECT to_regclass('\"__EFMigrationsHistory\"') IS NOT NULL AS \"Value\"").SingleAsync(cancellationToken))
            return [];
        return [.. await db.Database.GetAppliedMigrationsAsync(cancellationToken)];
    }

    /// <summary>The migrations shipped with this build that the database has not applied (see <see cref="AppliedMigrationsAsync"/>).</summary>
    public static async Task<IReadOnlyList<string>> PendingMigrationsAsync(this AgentryDbContext db, CancellationToken cancellationToken) =>
        PendingOf(db, await db.AppliedMigrationsAsync(cancellationToken));

    static List<string> PendingOf(AgentryDbContext db, IReadOnlyList<string> applied) => [.. db.Database.GetMigrations().Except(applied)];

    /// <summary>
    /// Serialises a read-modify-write across instances for the rest of the current transaction. PostgreSQL: a
    /// transaction-scoped advisory lock. SQLite has one writer at a time anyway (and serves one instance).
    /// </summary>
    public static async Task LockAsync(this AgentryDbContext db, SharedLock name, CancellationToken cancellationToken)
    {
        if (db.IsSqlite()) return;
        await db.Database.ExecuteSqlAsync($"SELECT pg_advisory_xact_lock({(long)name})", cancellationToken);
    }

    /// <summary>
    /// As <see cref="LockAsync(AgentryDbContext, SharedLock, CancellationToken)"/>, for one item of a kind (a tool by
    /// name): PostgreSQL's two-key advisory lock, the second key a stable hash of <paramref name="item"/>. SQLite's
    /// transactions take its one write lock when they begin (Microsoft.Data.Sqlite begins IMMEDIATE), which serialises
    /// the read-check-write on its own.
    /// </summary>
    public static async Task LockAsync(this AgentryDbContext db, SharedLock name, string item, CancellationToken cancellationToken)
    {
        if (db.IsSqlite()) return;
        var key = BitConverter.ToInt32(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(item)), 0);
        await db.Database.ExecuteSqlAsync($"SELECT pg_advisory_xact_lock({(int)name}, {key})", cancellationToken);
    }

    public static string SqliteConnectionString(DataOptions options, string contentRoot)
    {
        if (!string.IsNullOrWhiteSpace(options.ConnectionString)) return options.ConnectionString;
        var directory = options.FullDirectory(contentRoot);
        return new SqliteConnectionStringBuilder { DataSource = Path.Combine(directory, "agentry.db"), Pooling = true }.ToString();
    }

    /// <summary>Creates the data folder, applies pending migrations and (SQLite) switches to write-ahead logging.</summary>
    public static async Task MigrateDatabaseAsync(this IServiceProvider services, CancellationToken cancellationToken = default)
    {
        await using var scope = services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<AgentryDbContext>();
        await MigrateAsync(db, cancellationToken);
    }

    static async Task MigrateAsync(AgentryDbContext db, CancellationToken cancellationToken)
    {
        if (!db.IsSqlite())
        {
            // Instances starting together on a new database: EF's own migration lock still let two of them apply the
            // same migration (seen as "relation already exists"), so migrators queue on an advisory lock of their own
            // (a session lock on a separate connection, released when it closes) and each re-reads what is applied.
            await using var holder = new Npgsql.NpgsqlConnection(db.Database.GetConnectionString());
            await holder.OpenAsync(cancellationToken);
            await using (var take = new Npgsql.NpgsqlCommand($"SELECT pg_advisory_lock({(long)SharedLock.Migrations})", holder))
                await take.ExecuteNonQueryAsync(cancellationToken);
            // Npgsql's provider reads the history table unchecked (see AppliedMigrationsAsync); created first (IF NOT
            // EXISTS, under the lock), the read of a new database finds it empty instead of logging an error.
            await db.GetService<IHistoryRepository>().CreateIfNotExistsAsync(cancellationToken);
            await db.Database.MigrateAsync(cancellationToken);
            return;
        }
        EnsureSqliteFolder(db);
        await db.Database.MigrateAsync(cancellationToken);
        // WAL lets readers (history, lists) proceed while a turn commits; the setting is stored in the file itself.
        await db.Database.ExecuteSqlRawAsync("PRAGMA journal_mode=WAL;", cancellationToken);
    }

    static void EnsureSqliteFolder(AgentryDbContext db)
    {
        var dataSource = new SqliteConnectionStringBuilder(db.Database.GetConnectionString()).DataSource;
        if (Path.GetDirectoryName(Path.GetFullPath(dataSource)) is { } folder) System.IO.Directory.CreateDirectory(folder);
    }

    /// <summary>
    /// What start-up does about the schema (<see cref="DataOptions.MigrateOnStartup"/>): a new, empty database is
    /// created; pending migrations of an existing database are applied outside Production; in Production they wait for
    /// the operator (take a backup, then <c>agentry migrate</c>) unless <c>Data:MigrateOnStartup=true</c>, and the
    /// service refuses to start rather than run against a schema it does not match.
    /// </summary>
    public static async Task PrepareDatabaseAsync(this IServiceProvider services, CancellationToken cancellationToken = default)
    {
        var setting = services.GetRequiredService<IOptions<DataOptions>>().Value.MigrateOnStartup;
        if (setting == false) return; // migrated as its own deploy step; readiness stays 503 until then
        await using var scope = services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<AgentryDbContext>();
        if (db.IsSqlite()) EnsureSqliteFolder(db);
        var applied = await db.AppliedMigrationsAsync(cancellationToken);
        var pending = PendingOf(db, applied);
        var isNew = applied.Count == 0;
        var production = services.GetRequiredService<IHostEnvironment>().IsProduction();
        if (pending.Count > 0 && setting is null && production && !isNew)
            throw new PendingMigrationsException(pending);
        await MigrateAsync(db, cancellationToken);
    }

    /// <summary>
    /// The last step of a graceful stop, once every hosted service has stopped and flushed: SQLite folds its
    /// write-ahead log back into the database file (a copy of the folder is then complete on its own) and both
    /// providers close their pooled connections.
    /// </summary>
    public static void CloseDatabaseWhenStopped(this IServiceProvider services) =>
        services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopped.Register(() => CloseDatabaseAsync(services).GetAwaiter().GetResult());

    static async Task CloseDatabaseAsync(IServiceProvider services)
    {
        AsyncServiceScope scope;
        AgentryDbContext db;
        try
        {
            scope = services.CreateAsyncScope();
            db = scope.ServiceProvider.GetRequiredService<AgentryDbContext>();
        }
        catch (ObjectDisposedException)
        {
            // The host was disposed before its stop finished (seen once a test run, never in a process that stops on a
            // signal): the container went first and closed its pooled contexts with it; the log is folded in at the next start.
            return;
        }
        await using var _ = scope;
        try
        {
            if (db.IsSqlite()) await db.Database.ExecuteSqlRawAsync("PRAGMA wal_checkpoint(TRUNCATE);");
        }
        catch (Exception e) when (e is System.Data.Common.DbException or InvalidOperationException)
        {
            // Nothing is lost: the log is folded in at the next start.
        }
        finally
        {
            await db.Database.CloseConnectionAsync();
            if (db.IsSqlite()) SqliteConnection.ClearAllPools();
            else Npgsql.NpgsqlConnection.ClearAllPools();
        }
    }

    /// <summary>
    /// The SQL that would bring this database to the current schema (for a DBA to review and run), changing nothing.
    /// Idempotent on PostgreSQL (each migration guarded by the history table); SQLite cannot express that guard, so its
    /// script starts after the last applied migration.
    /// </summary>
    public static async Task<string> MigrationScriptAsync(this IServiceProvider services, CancellationToken cancellationToken = default)
    {
        await using var scope = services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<AgentryDbContext>();
        if (db.IsSqlite()) EnsureSqliteFolder(db);
        var applied = await db.AppliedMigrationsAsync(cancellationToken);
        return db.GetService<IMigrator>().GenerateScript(applied.Count > 0 ? applied[^1] : null, null, db.IsSqlite()
            ? MigrationsSqlGenerationOptions.Default
            : MigrationsSqlGenerationOptions.Idempotent);
    }
}

/// <summary>An existing Production database is behind this build's schema and nobody said to migrate it at start.</summary>
public sealed class PendingMigrationsException(IReadOnlyList<string> pending) : Exception(
    $"The database needs {pending.Count} migration(s) ({string.Join(", ", pending)}). Back it up, then run 'agentry migrate' " +
    "(or 'agentry migrate --script' for the SQL), or start once with Data:MigrateOnStartup=true.");
