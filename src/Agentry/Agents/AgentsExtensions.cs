using Agentry.Operations;
using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.Primitives;

namespace Agentry.Agents;

public static partial class AgentsExtensions
{
    public static IHostApplicationBuilder AddAgents(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<AgentOptions>().BindSettings(AgentOptions.Section).ValidateOnStart();
        builder.Services.AddSingleton<AgentFileCatalog>();
        builder.Services.AddScoped<AgentCatalog>();
        builder.Services.AddScoped<AgentVersions>();
        builder.Services.AddSingleton<SemanticRouter>();
        builder.Services.AddScoped<Handoffs>();
        builder.Services.AddScoped<WorkflowRunner>();
        return builder;
    }

    /// <summary>
    /// Loads the agent files before the service accepts requests. A broken file stops start-up with the file, line and
    /// problem: an agents-as-code change that does not parse should fail its deploy, not silently drop an agent.
    /// </summary>
    public static void LoadAgentFiles(this IServiceProvider services)
    {
        var catalog = services.GetRequiredService<AgentFileCatalog>();
        var result = catalog.Reload();
        if (result.Errors.Count > 0)
            throw new Operations.StartupException($"Agent files in {catalog.Directory} have errors:{Environment.NewLine}  " +
                string.Join(Environment.NewLine + "  ", result.Errors));

        var options = services.GetRequiredService<Microsoft.Extensions.Options.IOptions<AgentOptions>>().Value;
        if (options.Watch && catalog.Directory.Length > 0 && Directory.Exists(catalog.Directory)) Watch(services, catalog);
        if (catalog.ServesSamples && services.GetRequiredService<IHostEnvironment>().IsProduction())
            LogServingSamples(services.GetRequiredService<ILoggerFactory>().CreateLogger("Agentry.Agents"), catalog.All.Count);
    }

    [LoggerMessage(EventId = 2003, Level = LogLevel.Warning, Message = "Serving the {Count} bundled sample agents (a help desk, with a refund tool). For your own agents set Agents:Directory; to serve none of the samples set Agents:Samples=false")]
    static partial void LogServingSamples(ILogger logger, int count);

    /// <summary>
    /// Records a version for each agent whose content changed since the last one recorded (files edited while the
    /// service was down, API agents from before versions existed); at start, and after the watcher reloads the folder
    /// (POST /v1/agents:reload records its own). The history is a record, not what serves customers: a failure to write
    /// it is logged, and the service goes on.
    /// </summary>
    public static async Task RecordAgentVersionsAsync(this IServiceProvider services)
    {
        try
        {
            await RecordAsync(services, CancellationToken.None);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            LogVersionsNotRecorded(services.GetRequiredService<ILoggerFactory>().CreateLogger("Agentry.Agents"), e);
        }
    }

    static async Task RecordAsync(IServiceProvider services, CancellationToken cancellationToken)
    {
        await using var scope = services.CreateAsyncScope();
        await scope.ServiceProvider.GetRequiredService<AgentVersions>().RecordCurrentAsync(scope.ServiceProvider.GetRequiredService<AgentCatalog>(), cancellationToken);
    }

    [LoggerMessage(EventId = 2004, Level = LogLevel.Error, Message = "Could not record the agents' versions")]
    static partial void LogVersionsNotRecorded(ILogger logger, Exception exception);

    static void Watch(IServiceProvider services, AgentFileCatalog catalog)
    {
        var provider = new PhysicalFileProvider(catalog.Directory);
        var lifetime = services.GetRequiredService<IHostApplicationLifetime>();
        lifetime.ApplicationStopping.Register(provider.Dispose);
        // Editors write a file in several steps; wait for the burst to end before re-reading the folder.
        Timer? debounce = null;
        ChangeToken.OnChange(() => new CompositeChangeToken([provider.Watch("*.yaml"), provider.Watch("*.yml")]), () =>
        {
            debounce?.Dispose();
            debounce = new Timer(_ =>
            {
                if (catalog.Reload().Errors.Count == 0) _ = services.RecordAgentVersionsAsync(); // a changed file is a new version
            }, null, TimeSpan.FromMilliseconds(300), Timeout.InfiniteTimeSpan);
        });
    }
}
