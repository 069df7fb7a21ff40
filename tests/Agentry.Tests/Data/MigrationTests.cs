using Agentry.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Agentry.Tests.Data;

public sealed class MigrationTests
{
    [Fact]
    public async Task A_fresh_database_is_fully_migrated_and_the_model_matches_the_migrations()
    {
        await using var app = new AgentryApp();
        await using var scope = app.Service<IServiceProvider>().CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<AgentryDbContext>();

        Assert.Empty(await db.Database.GetPendingMigrationsAsync());
        Assert.NotEmpty(await db.Database.GetAppliedMigrationsAsync());
        // Fails when an entity changed without `dotnet ef migrations add`.
        Assert.False(db.Database.HasPendingModelChanges(), "The model has changes that no migration captures.");

        if (TestDatabase.IsPostgres) return;
        var journal = await db.Database.SqlQueryRaw<string>("PRAGMA journal_mode").ToListAsync();
        Assert.Equal("wal", journal.Single()); // SQLite readers proceed while a turn commits
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
}
