using Agentry.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace Agentry.Tests.Data;

public sealed class MigrationTests
{
    [Fact]
    public async Task A_fresh_database_is_fully_migrated_and_the_model_matches_the_migrations()
    {
        // Other tests start on a copy of a database migrated once per run; this one gives the service an empty one.
        var folder = Directory.CreateTempSubdirectory("agentry-fresh-").FullName;
        TestDatabase.StartEmpty(folder);
        try
        {
            await using var app = new AgentryApp(settings: new() { ["Data:Directory"] = folder });
            await using var scope = app.Service<IServiceProvider>().CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<AgentryDbContext>();

            Assert.Equal(db.Database.GetMigrations(), await db.Database.GetAppliedMigrationsAsync());
            Assert.Empty(await db.Database.GetPendingMigrationsAsync());
            // Fails when an entity changed without `dotnet ef migrations add`.
            Assert.False(db.Database.HasPendingModelChanges(), "The model has changes that no migration captures.");

            if (TestDatabase.IsPostgres) return;
            var journal = await db.Database.SqlQueryRaw<string>("PRAGMA journal_mode").ToListAsync();
            Assert.Equal("wal", journal.Single()); // SQLite readers proceed while a turn commits
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public async Task Data_survives_a_restart_on_the_same_folder()
    {
        var folder = Directory.CreateTempSubdirectory("agentry-restart-").FullName;
        try
        {
            string conversationId;
            await using (var first = new AgentryApp(settings: new() { ["Data:Directory"] = folder }))
            {
                conversationId = (string)(await first.CreateConversationAsync())["id"]!;
                await first.SendAsync(conversationId, "remember me");
            }
            await using var second = new AgentryApp(settings: new() { ["Data:Directory"] = folder });
            var history = await second.MessagesAsync(conversationId);
            Assert.Equal(["remember me"], history.Where(m => (string?)m!["role"] == "user").Select(m => (string)m!["content"]!).ToArray());
            Assert.Equal(2, history.Count);
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>
    /// An upgrade as an operator meets it: a database at the previous schema with data in it, a new build started in
    /// Production. It refuses to start (one line, exit 1) instead of migrating unasked; <c>migrate --script</c> shows
    /// the SQL and changes nothing; <c>migrate</c> applies it; the service then starts and the data is all there.
    /// (SQLite: PostgreSQL has a single migration so far, so it has no previous schema to upgrade from.)
    /// </summary>
    [Fact]
    [Trait("Database", "sqlite")]
    public async Task A_database_at_the_previous_schema_is_upgraded_only_when_asked_and_keeps_its_data()
    {
        var folder = Directory.CreateTempSubdirectory("agentry-upgrade-").FullName;
        try
        {
            var file = Path.Combine(folder, "agentry.db");
            var options = new DbContextOptionsBuilder<SqliteAgentryDbContext>().UseSqlite($"Data Source={file};Pooling=False").UseSnakeCaseNamingConvention().Options;
            string previous, latest;
            await using (var db = new SqliteAgentryDbContext(options))
            {
                var migrations = db.Database.GetMigrations().ToList();
                (previous, latest) = (migrations[^2], migrations[^1]);
                await db.GetService<Microsoft.EntityFrameworkCore.Migrations.IMigrator>().MigrateAsync(previous);
                // Written as the previous build wrote them: in SQL against the previous schema (this build's model may
                // have columns that schema does not).
                var now = DateTimeOffset.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", System.Globalization.CultureInfo.InvariantCulture);
                await db.Database.ExecuteSqlAsync($"INSERT INTO conversations (id, agent_id, created_at, updated_at, last_sequence) VALUES ('conv_00000000000000000000000000000001', 'support', {now}, {now}, 2)");
                await db.Database.ExecuteSqlAsync($"INSERT INTO messages (id, conversation_id, sequence, role, content, status, created_at) VALUES ('msg_00000000000000000000000000000001', 'conv_00000000000000000000000000000001', 1, 'user', 'written by the previous build', 'completed', {now})");
                await db.Database.ExecuteSqlAsync($"INSERT INTO messages (id, conversation_id, sequence, role, content, status, created_at) VALUES ('msg_00000000000000000000000000000002', 'conv_00000000000000000000000000000001', 2, 'assistant', 'and kept', 'completed', {now})");
            }
            var production = new Dictionary<string, string> { ["ASPNETCORE_ENVIRONMENT"] = "Production", ["AGENTRY_ADMIN_KEY"] = AgentryApp.AdminKey };

            var refused = await AgentryProcess.RunCommandAsync(folder, production, "serve");
            Assert.True(refused.ExitCode == 1, refused.Output);
            Assert.Contains($"The database needs 1 migration(s) ({latest})", refused.Output);
            Assert.DoesNotContain("   at ", refused.Output);

            var script = await AgentryProcess.RunCommandAsync(folder, production, "migrate", "--script");
            Assert.True(script.ExitCode == 0, script.Output);
            Assert.Contains(latest, script.Output);
            Assert.Contains("INSERT INTO \"__EFMigrationsHistory\"", script.Output); // the SQL that records the step, not only its name
            await using (var db = new SqliteAgentryDbContext(options))
                Assert.Equal([latest], await db.Database.GetPendingMigrationsAsync()); // the script changed nothing

            var migrated = await AgentryProcess.RunCommandAsync(folder, production, "migrate");
            Assert.True(migrated.ExitCode == 0, migrated.Output);
            await using var service = new AgentryProcess(folder);
            var client = await service.StartedAsync();
            var messages = (await Http.JsonAsync(await client.GetAsync("/v1/conversations/conv_00000000000000000000000000000001/messages")))["data"]!.AsArray();
            Assert.Equal(["written by the previous build", "and kept"], messages.Select(m => (string)m!["content"]!).ToArray());
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(folder, recursive: true);
        }
    }
}
