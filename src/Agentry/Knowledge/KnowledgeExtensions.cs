using Agentry.Agents;
using Agentry.Data;
using Agentry.Operations;
using Microsoft.Extensions.Options;

namespace Agentry.Knowledge;

public static partial class KnowledgeExtensions
{
    public static IHostApplicationBuilder AddKnowledge(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<KnowledgeOptions>().BindSettings(KnowledgeOptions.Section).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<KnowledgeOptions>, KnowledgeOptionsValidator>();
        builder.Services.AddKeyedSingleton(RetrievalEmbeddings.Key, (services, _) => RetrievalEmbeddings.Create(services));
        builder.Services.AddSingleton<KnowledgeIndexer>();
        builder.Services.AddHostedService(services => services.GetRequiredService<KnowledgeIndexer>());
        builder.Services.AddScoped<KnowledgeLibrary>();
        builder.Services.AddScoped<KnowledgeSearch>();
        builder.Services.AddScoped<IKnowledgeSearch>(services => services.GetRequiredService<KnowledgeSearch>());
        return builder;
    }

    /// <summary>The knowledge folder: Knowledge:Directory, or <c>knowledge</c> in the agents folder; null when there is none.</summary>
    public static string? KnowledgeFolderPath(this IServiceProvider services)
    {
        var configured = services.GetRequiredService<IOptions<KnowledgeOptions>>().Value.Directory;
        var environment = services.GetRequiredService<IHostEnvironment>();
        if (!string.IsNullOrWhiteSpace(configured)) return AgentFileCatalog.ResolveDirectory(configured, environment.ContentRootPath);
        var agents = services.GetRequiredService<AgentFileCatalog>().Directory;
        return agents.Length == 0 ? null : Path.Combine(agents, "knowledge");
    }

    /// <summary>At start, once the database is ready: the knowledge folder's new and changed files are queued for indexing.</summary>
    public static async Task SyncKnowledgeFolderAsync(this IServiceProvider services, CancellationToken cancellationToken = default)
    {
        if (services.KnowledgeFolderPath() is not { } folder || !Directory.Exists(folder)) return;
        await using var scope = services.CreateAsyncScope();
        var result = await KnowledgeFolder.SyncAsync(folder, scope.ServiceProvider.GetRequiredService<KnowledgeLibrary>(),
            scope.ServiceProvider.GetRequiredService<AgentryDbContext>(), cancellationToken);
        var logger = services.GetRequiredService<ILoggerFactory>().CreateLogger("Agentry.Knowledge");
        foreach (var error in result.Errors) LogFileError(logger, error);
        LogSynced(logger, folder, result.Added, result.Replaced, result.Unchanged, result.Removed);
    }

    [LoggerMessage(EventId = 9104, Level = LogLevel.Information,
        Message = "Knowledge folder {Folder}: {Added} added, {Replaced} changed, {Unchanged} unchanged, {Removed} removed")]
    static partial void LogSynced(ILogger logger, string folder, int added, int replaced, int unchanged, int removed);

    [LoggerMessage(EventId = 9105, Level = LogLevel.Warning, Message = "Knowledge file skipped: {Error}")]
    static partial void LogFileError(ILogger logger, string error);
}
