using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage.ValueConversion;

namespace Agentry.Data;

/// <summary>The SQLite flavour of the model; its migrations live in Data/Migrations/Sqlite.</summary>
public sealed class SqliteAgentryDbContext(DbContextOptions<SqliteAgentryDbContext> options) : AgentryDbContext(options)
{
    protected override void ConfigureConventions(ModelConfigurationBuilder configurationBuilder)
    {
        // SQLite has no timestamp type; ISO-8601 text in UTC stays readable in the sqlite3 shell and sorts correctly.
        configurationBuilder.Properties<DateTimeOffset>().HaveConversion<UtcIsoConverter>();
    }

    sealed class UtcIsoConverter() : ValueConverter<DateTimeOffset, string>(
        v => v.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", System.Globalization.CultureInfo.InvariantCulture),
        v => DateTimeOffset.Parse(v, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal));
}
