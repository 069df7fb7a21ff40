using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace Agentry.Data;

public sealed class DataOptions
{
    public const string Section = "Data";

    /// <summary>Folder for the SQLite database and other local state; relative paths start at the content root. Alias: AGENTRY_DATA_DIR.</summary>
    public string Directory { get; set; } = "data";

    /// <summary>Full SQLite connection string; overrides <see cref="Directory"/> when set.</summary>
    public string? ConnectionString { get; set; }

    /// <summary>Apply pending migrations when the service starts. Turn off to run <c>agentry migrate</c> as a separate step.</summary>
    public bool MigrateOnStartup { get; set; } = true;

    /// <summary>The data folder as an absolute path: relative settings start at the content root.</summary>
    public string FullDirectory(string contentRoot) => Path.GetFullPath(Path.Combine(contentRoot, Directory));
}

public static class DataExtensions
{
    public static IHostApplicationBuilder AddData(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<DataOptions>().BindConfiguration(DataOptions.Section).ValidateOnStart();
        builder.Services.AddDbContextPool<AgentryDbContext, SqliteAgentryDbContext>((services, db) => db.UseSqlite(SqliteConnectionString(
            services.GetRequiredService<IOptions<DataOptions>>().Value, services.GetRequiredService<IHostEnvironment>().ContentRootPath)));
        builder.Services.AddHealthChecks().AddCheck<DatabaseHealthCheck>("database", tags: ["ready"]);
        return builder;
    }

    public static string SqliteConnectionString(DataOptions options, string contentRoot)
    {
        if (!string.IsNullOrWhiteSpace(options.ConnectionString)) return options.ConnectionString;
        var directory = options.FullDirectory(contentRoot);
        return new SqliteConnectionStringBuilder { DataSource = Path.Combine(directory, "agentry.db"), Pooling = true }.ToString();
    }

    /// <summary>Creates the data folder, applies pending migrations and switches SQLite to write-ahead logging.</summary>
    public static async Task MigrateDatabaseAsync(this IServiceProvider services, CancellationToken cancellationToken = default)
    {
        await using var scope = services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<AgentryDbContext>();
        var dataSource = new SqliteConnectionStringBuilder(db.Database.GetConnectionString()).DataSource;
        if (Path.GetDirectoryName(Path.GetFullPath(dataSource)) is { } folder) System.IO.Directory.CreateDirectory(folder);
        await db.Database.MigrateAsync(cancellationToken);
        // WAL lets readers (history, lists) proceed while a turn commits; the setting is stored in the file itself.
        await db.Database.ExecuteSqlRawAsync("PRAGMA journal_mode=WAL;", cancellationToken);
    }

    public static bool MigrateOnStartup(this IServiceProvider services) =>
        services.GetRequiredService<IOptions<DataOptions>>().Value.MigrateOnStartup;
}

/// <summary>Ready only when the database answers and every migration shipped with this build is applied.</summary>
public sealed class DatabaseHealthCheck(AgentryDbContext db) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            if (!await db.Database.CanConnectAsync(cancellationToken)) return HealthCheckResult.Unhealthy("The database cannot be opened.");
            var pending = (await db.Database.GetPendingMigrationsAsync(cancellationToken)).ToList();
            return pending.Count == 0
                ? HealthCheckResult.Healthy("Connected; all migrations applied.")
                : HealthCheckResult.Unhealthy($"{pending.Count} migration(s) not applied; run 'agentry migrate'.");
        }
        catch (Exception e) when (e is SqliteException or InvalidOperationException or IOException or UnauthorizedAccessException)
        {
            return HealthCheckResult.Unhealthy("The database cannot be read.", e);
        }
    }
}

/// <summary>Lets <c>dotnet ef migrations add</c> build the SQLite context without starting the service.</summary>
public sealed class SqliteDesignTimeFactory : IDesignTimeDbContextFactory<SqliteAgentryDbContext>
{
    public SqliteAgentryDbContext CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<SqliteAgentryDbContext>().UseSqlite("Data Source=design-time.db").Options);
}
