using Agentry.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Agentry.Tests.Data;

/// <summary>SQLite's per-connection settings hold on every open of a pooled connection, though they are run once per connection.</summary>
[Trait("Database", "sqlite")]
public sealed class SqliteConnectionSettingsTests
{
    [Theory]
    [InlineData("NORMAL", 1L)]
    [InlineData("FULL", 2L)]
    public async Task Every_open_of_a_pooled_connection_has_the_busy_timeout_and_the_configured_synchronous_mode(string synchronous, long expected)
    {
        await using var app = new AgentryApp(settings: new() { ["Data:SqliteSynchronous"] = synchronous });
        for (var open = 0; open < 3; open++) // the pool hands out the connections it has again
        {
            await using var scope = app.Services.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<AgentryDbContext>();
            await db.Database.OpenConnectionAsync(); // as EF Core opens it for a query, through its interceptors
            Assert.Equal(30_000L, await PragmaAsync(db.Database.GetDbConnection(), "busy_timeout"));
            Assert.Equal(expected, await PragmaAsync(db.Database.GetDbConnection(), "synchronous"));
            await db.Database.CloseConnectionAsync();
        }
    }

    static async Task<long> PragmaAsync(System.Data.Common.DbConnection connection, string name)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = $"PRAGMA {name};";
        return Convert.ToInt64(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }
}
