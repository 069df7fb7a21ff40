using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Agentry.Data;

public static class DataExtensions
{
    public static IHostApplicationBuilder AddData(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<DataOptions>().BindConfiguration(DataOptions.Section).ValidateOnStart();
        builder.Services.AddDbContextPool<AgentryDbContext, SqliteAgentryDbContext>((services, db) => db
            .UseSqlite(SqliteConnectionString(services.GetRequiredService<IOptions<DataOptions>>().Value, services.GetRequiredService<IHostEnvironment>().ContentRootPath))
            .UseSnakeCaseNamingConvention()
            .AddInterceptors(services.GetRequiredService<Audit.AuditOutboxInterceptor>()));
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
