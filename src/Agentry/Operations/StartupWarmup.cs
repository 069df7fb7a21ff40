using System.Diagnostics;
using Agentry.Agents;
using Agentry.Data;
using Agentry.Knowledge;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace Agentry.Operations;

/// <summary>
/// Readiness waits for what the first turns would otherwise do while users wait: the documents of the knowledge bases
/// agents answer from indexed (a support agent that answered before its help-center was indexed would answer without
/// it), those bases loaded for searching, and the local embedding model loaded. An instance that met a full load the
/// moment it said ready spent its first tens of seconds doing this under every request at once (the first turn alone
/// takes over a second to load the model, and every request that arrives meanwhile waits on it; docs/performance.md).
/// Bounded by Health:WarmupTimeout: past it the instance says ready all the same and logs what it was still waiting
/// for. Only reads; nothing a warm-up does is written or counted.
/// </summary>
public sealed partial class StartupWarmup(
    IServiceScopeFactory scopes, IHostApplicationLifetime lifetime, IOptions<HealthOptions> options, ILogger<StartupWarmup> logger)
    : BackgroundService, IHealthCheck
{
    /// <summary>What the warm-up is doing now; null once it is over (done, timed out or off).</summary>
    volatile string? _waitingFor = options.Value.WarmupTimeout > TimeSpan.Zero ? "starting" : null;

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(_waitingFor is { } what ? HealthCheckResult.Unhealthy($"Warming up: {what}.") : HealthCheckResult.Healthy("Warm."));

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (_waitingFor is null) return; // Health:WarmupTimeout = 0: ready at once, the first turns warm the service
        try
        {
            // The indexer starts once the service has (KnowledgeIndexer), and so does this.
            await lifetime.WaitUntilStartedAsync(stoppingToken);
            var clock = Stopwatch.StartNew();
            using var bounded = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
            bounded.CancelAfter(options.Value.WarmupTimeout);
            try
            {
                await WarmAsync(bounded.Token);
                LogWarm(clock.ElapsedMilliseconds);
            }
            catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
            {
                LogTimedOut(options.Value.WarmupTimeout, _waitingFor ?? "");
            }
            catch (Exception e) when (!stoppingToken.IsCancellationRequested)
            {
                LogFailed(e, _waitingFor ?? ""); // a warm-up is an optimisation: the first turns do the same work and report their own errors
            }
            _waitingFor = null;
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping before it was warm: readiness is 503 for the drain anyway.
        }
    }

    async Task WarmAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var services = scope.ServiceProvider;
        _waitingFor = "reading the agents";
        var agents = (await services.GetRequiredService<AgentCatalog>().ListAsync(cancellationToken)).Select(a => a.Definition).ToList();
        var bases = KnowledgeBasesOf(agents);
        if (bases.Count > 0)
        {
            var db = services.GetRequiredService<AgentryDbContext>();
            var documents = db.KnowledgeDocuments.Where(d => bases.Contains(d.KnowledgeBase));
            // Documents indexed with another embedding model are about to be queued again (the indexer requeues them as it
            // starts, which may be after this first count): an instance whose model changed is not warm before they are.
            var model = services.GetRequiredService<KnowledgeIndexer>().EmbeddingModel;
            // One statement: the requeue moves documents from one half to the other, and could fall between two counts.
            var waitingDocuments = documents.Where(d => d.Status == KnowledgeStatus.Queued || d.Status == KnowledgeStatus.Indexing)
                .Concat(documents.Where(KnowledgeIndexer.IndexedWithAnotherModel(model)));
            while (await waitingDocuments.CountAsync(cancellationToken) is var waiting and > 0)
            {
                _waitingFor = $"indexing {waiting} document(s) of {string.Join(", ", bases)}";
                await Task.Delay(TimeSpan.FromMilliseconds(200), cancellationToken);
            }
        }
        await LoadAsync(services, agents, what => _waitingFor = what, cancellationToken);
    }

    /// <summary>
    /// Loads what the agents' first turns would load: the knowledge bases they answer from (passages, vectors, the
    /// search code run once) and the local embedding model when routing or memory embeds with it. Also run by
    /// <c>agentry eval run</c> before its first case, so a case's latency is the turn's and not the process's start.
    /// </summary>
    public static async Task LoadAsync(IServiceProvider services, IReadOnlyList<AgentDefinition> agents, Action<string> waitingFor, CancellationToken cancellationToken)
    {
        var bases = KnowledgeBasesOf(agents);
        if (bases.Count > 0)
        {
            waitingFor($"loading {string.Join(", ", bases)} for searching");
            await services.GetRequiredService<IKnowledgeSearch>().SearchAsync(bases, "warm-up", 1, cancellationToken);
        }
        // Semantic routing embeds with the local model; memories do when retrieval uses it (not a provider's model, which
        // has nothing to load and whose calls cost).
        var retrieval = services.GetRequiredKeyedService<IEmbeddingGenerator<string, Embedding<float>>>(RetrievalEmbeddings.Key);
        if (agents.Any(a => a.Routing.IsSemantic) || (agents.Any(a => a.Memory != Memory.MemoryScopes.Off) && retrieval.GetService<Models.LocalEmbeddingGenerator>() is not null))
        {
            waitingFor("loading the embedding model");
            await services.GetRequiredService<IEmbeddingGenerator<string, Embedding<float>>>().GenerateVectorAsync("warm-up", cancellationToken: cancellationToken);
        }
    }

    static List<string> KnowledgeBasesOf(IEnumerable<AgentDefinition> agents) =>
        agents.SelectMany(a => a.Knowledge?.Bases ?? []).Distinct(StringComparer.Ordinal).ToList();

    [LoggerMessage(EventId = 8010, Level = LogLevel.Information, Message = "Warm in {ElapsedMs} ms: knowledge indexed and loaded, embedding model loaded; ready")]
    partial void LogWarm(long elapsedMs);

    [LoggerMessage(EventId = 8011, Level = LogLevel.Warning,
        Message = "Warm-up did not finish within Health:WarmupTimeout ({Timeout}); ready all the same. It was {WaitingFor}; the first turns wait for it instead")]
    partial void LogTimedOut(TimeSpan timeout, string waitingFor);

    [LoggerMessage(EventId = 8012, Level = LogLevel.Warning, Message = "Warm-up failed while {WaitingFor}; ready all the same, the first turns do this work themselves")]
    partial void LogFailed(Exception exception, string waitingFor);
}
