using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;

namespace Agentry.Data;

/// <summary>Lets <c>dotnet ef migrations add</c> build the SQLite context without starting the service.</summary>
public sealed class SqliteDesignTimeFactory : IDesignTimeDbContextFactory<SqliteAgentryDbContext>
{
    public SqliteAgentryDbContext CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<SqliteAgentryDbContext>().UseSqlite("Data Source=design-time.db").UseSnakeCaseNamingConvention().Options);
}
