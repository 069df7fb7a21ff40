using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;

namespace Agentry.Data;

/// <summary>The PostgreSQL flavour of the model, for several instances; its migrations live in Data/Migrations/Postgres.</summary>
public sealed class PostgresAgentryDbContext(DbContextOptions<PostgresAgentryDbContext> options) : AgentryDbContext(options);

/// <summary>Lets <c>dotnet ef migrations add --context PostgresAgentryDbContext</c> build the model without a server.</summary>
public sealed class PostgresDesignTimeFactory : IDesignTimeDbContextFactory<PostgresAgentryDbContext>
{
    public PostgresAgentryDbContext CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<PostgresAgentryDbContext>().UseNpgsql("Host=localhost;Database=agentry_design").UseSnakeCaseNamingConvention().Options);
}
