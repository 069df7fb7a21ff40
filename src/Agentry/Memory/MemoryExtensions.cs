using Agentry.Data;
using Agentry.Operations;
using Microsoft.EntityFrameworkCore;

namespace Agentry.Memory;

public static partial class MemoryExtensions
{
    /// <summary>
    /// Embeddings that outlive a request (the per-conversation vectors behind <c>conversation_search</c>), the retrieval
    /// caches, and long-term memory: what agents remember about users.
    /// </summary>
    public static IHostApplicationBuilder AddMemory(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<MemoryOptions>().BindSettings(MemoryOptions.Section).ValidateOnStart();
        builder.Services.AddSingleton<SnapshotCache>();
        builder.Services.AddHostedService(services => services.GetRequiredService<SnapshotCache>());
        builder.Services.AddScoped<IVectorStore, DatabaseVectorStore>();
        builder.Services.AddScoped<ConversationSearch>();
        builder.Services.AddScoped<UserMemories>();
        builder.Services.AddScoped<Conversations.Context.IContextProvider, MemoryContext>();
        builder.Services.AddHostedService<VectorSearchProbe>();
        return builder;
    }
}

/// <summary>
/// Says at start where vectors live and how they are searched. On PostgreSQL it looks for the pgvector extension: this
/// version stores vectors portably either way (no extension needed), and reports when pgvector could take over.
/// </summary>
public sealed partial class VectorSearchProbe(IServiceScopeFactory scopes, ILogger<VectorSearchProbe> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        try
        {
            await using var scope = scopes.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<AgentryDbContext>();
            if (db.IsSqlite())
            {
                LogPortable("SQLite");
                return;
            }
            var available = await db.Database.SqlQueryRaw<bool>("SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'vector') AS \"Value\"")
                .SingleAsync(cancellationToken);
            if (available) LogPgvectorAvailable();
            else LogPortable("PostgreSQL without pgvector");
        }
        catch (Exception e) when (e is System.Data.Common.DbException or InvalidOperationException)
        {
            LogProbeFailed(e); // the database check in /health/ready says more; vectors still work
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(EventId = 9000, Level = LogLevel.Debug, Message = "Vectors are stored in the embeddings table ({Database}) and searched in process")]
    partial void LogPortable(string database);

    [LoggerMessage(EventId = 9001, Level = LogLevel.Information,
        Message = "The pgvector extension is available in this PostgreSQL; vectors are still stored portably and searched in process (an index-backed store can replace it behind IVectorStore)")]
    partial void LogPgvectorAvailable();

    [LoggerMessage(EventId = 9002, Level = LogLevel.Warning, Message = "Could not check for pgvector")]
    partial void LogProbeFailed(Exception exception);
}
