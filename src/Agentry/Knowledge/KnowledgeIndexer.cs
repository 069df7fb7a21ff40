using System.Linq.Expressions;
using Agentry.Data;
using Agentry.Memory;
using Agentry.Operations;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;

namespace Agentry.Knowledge;

/// <summary>
/// Indexes queued documents, one at a time, on whichever instance claims them first: cuts the text into passages,
/// embeds them, and in one transaction stores the new passages and vectors, deletes those of the previous version and
/// marks the document indexed. Searches see the old version or the new one, never a mix or nothing. A claim lasts
/// Knowledge:IndexingLease, so a document an instance was indexing when it died is taken over. At start, documents
/// embedded with another embedding model are queued again.
/// </summary>
public sealed partial class KnowledgeIndexer(
    IServiceScopeFactory scopes, [FromKeyedServices(RetrievalEmbeddings.Key)] IEmbeddingGenerator<string, Embedding<float>> embeddings, SnapshotCache cache, IOptions<KnowledgeOptions> options,
    TimeProvider time, IHostApplicationLifetime lifetime, ILogger<KnowledgeIndexer> logger) : BackgroundService
{
    const int EmbeddingBatch = 32;
    readonly SemaphoreSlim _work = new(0, 1);

    public string EmbeddingModel => StoredEmbedding.ModelOf(embeddings);

    /// <summary>Wakes the indexer: a document was queued on this instance. (Other instances look every few seconds.)</summary>
    public void Signal()
    {
        try
        {
            if (_work.CurrentCount == 0) _work.Release();
        }
        catch (SemaphoreFullException)
        {
            // Already signalled.
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            // Only once the service has started: a start that fails (its port in use, say) exits at once, and the local
            // embedding model's native code must not be running then (CI saw the process die with SIGSEGV).
            await lifetime.WaitUntilStartedAsync(stoppingToken);
            await RequeueOtherModelsAsync(stoppingToken);
            while (!stoppingToken.IsCancellationRequested)
            {
                try
                {
                    while (await IndexNextAsync(stoppingToken) is not null) { }
                }
                catch (Exception e) when (!stoppingToken.IsCancellationRequested)
                {
                    LogIndexerFailed(e); // the database or the embedding provider is away, say; the next round tries again
                }
                await _work.WaitAsync(TimeSpan.FromSeconds(5), stoppingToken);
            }
        }
        catch (Exception) when (stoppingToken.IsCancellationRequested)
        {
            // Shutting down (whatever a cancelled step threw): a claimed document is taken over when its lease lapses.
        }
    }

    /// <summary>
    /// Documents whose passages were embedded with another model than <paramref name="model"/>: their vectors cannot be
    /// compared with this model's, so the indexer queues them again as it starts (and the warm-up waits for them).
    /// </summary>
    public static Expression<Func<KnowledgeDocument, bool>> IndexedWithAnotherModel(string model) =>
        d => d.Status == KnowledgeStatus.Indexed && d.EmbeddingModel != model;

    async Task RequeueOtherModelsAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<AgentryDbContext>();
        var model = EmbeddingModel;
        var requeued = await db.KnowledgeDocuments.Where(IndexedWithAnotherModel(model))
            .ExecuteUpdateAsync(s => s.SetProperty(d => d.Status, KnowledgeStatus.Queued), cancellationToken);
        if (requeued > 0) LogRequeued(requeued, model);
    }

    /// <summary>Claims and indexes the next queued document; returns it (indexed or failed), or null when none is waiting.</summary>
    public async Task<KnowledgeDocument?> IndexNextAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<AgentryDbContext>();
        if (await ClaimAsync(db, cancellationToken) is not { } document) return null;
        try
        {
            var chunks = KnowledgeChunker.Cut(new ExtractedDocument(document.Format, document.Text), options.Value.ChunkTokens, options.Value.ChunkOverlapTokens);
            var vectors = new List<Embedding<float>>(chunks.Count);
            foreach (var batch in chunks.Chunk(EmbeddingBatch))
                vectors.AddRange(await embeddings.GenerateAsync(batch.Select(c => EmbeddingText(document, c)), cancellationToken: cancellationToken));
            if (!await cache.ChangingAsync(KnowledgeSearch.CacheKey(document.KnowledgeBase), () => SwapAsync(db, document, chunks, vectors, cancellationToken)))
                return document; // a newer version arrived meanwhile: it is queued
            LogIndexed(document.KnowledgeBase, document.Name, document.Version, chunks.Count);
        }
        catch (Exception e) when (cancellationToken.IsCancellationRequested || RetrievalEmbeddings.IsUnavailable(e, cancellationToken))
        {
            // Stopping, or the provider's embedding model is down: give the document back at once rather than when the
            // lease lapses (it is not the document's fault); the loop tries again in a few seconds.
            db.ChangeTracker.Clear();
            await db.KnowledgeDocuments.Where(d => d.Id == document.Id && d.Version == document.Version && d.Status == KnowledgeStatus.Indexing)
                .ExecuteUpdateAsync(s => s.SetProperty(d => d.Status, KnowledgeStatus.Queued).SetProperty(d => d.ClaimedAt, (DateTimeOffset?)null), CancellationToken.None);
            throw;
        }
        catch (Exception e)
        {
            LogDocumentFailed(e, document.KnowledgeBase, document.Name);
            var message = e.Message.Length > 900 ? e.Message[..900] : e.Message;
            db.ChangeTracker.Clear();
            await db.KnowledgeDocuments.Where(d => d.Id == document.Id && d.Version == document.Version)
                .ExecuteUpdateAsync(s => s.SetProperty(d => d.Status, KnowledgeStatus.Failed).SetProperty(d => d.Error, $"Indexing failed: {message}")
                    .SetProperty(d => d.ClaimedAt, (DateTimeOffset?)null), CancellationToken.None);
            document.Status = KnowledgeStatus.Failed;
            document.Error = message;
            await cache.InvalidateAsync(KnowledgeSearch.CacheKey(document.KnowledgeBase)); // a swap invalidates in ChangingAsync
        }
        return document;
    }

    /// <summary>What a passage's vector is made from: where it sits (its headings, or the document's name) and its text.</summary>
    static string EmbeddingText(KnowledgeDocument document, ChunkDraft chunk) =>
        $"{(chunk.SectionPath.Length > 0 ? chunk.SectionPath : Path.GetFileNameWithoutExtension(document.Name))}\n{chunk.Text}";

    async Task<KnowledgeDocument?> ClaimAsync(AgentryDbContext db, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var abandoned = now - options.Value.IndexingLease;
        for (var attempt = 0; attempt < 5; attempt++)
        {
            var next = await db.KnowledgeDocuments.AsNoTracking()
                .Where(d => d.Status == KnowledgeStatus.Queued || (d.Status == KnowledgeStatus.Indexing && d.ClaimedAt < abandoned))
                .OrderBy(d => d.UpdatedAt).Select(d => new { d.Id, d.Version, d.Status, d.ClaimedAt }).FirstOrDefaultAsync(cancellationToken);
            if (next is null) return null;
            // Whoever changes the row first has it; another instance's claim (or a newer version) makes this one match nothing.
            var claimed = await db.KnowledgeDocuments
                .Where(d => d.Id == next.Id && d.Version == next.Version && d.Status == next.Status && d.ClaimedAt == next.ClaimedAt)
                .ExecuteUpdateAsync(s => s.SetProperty(d => d.Status, KnowledgeStatus.Indexing).SetProperty(d => d.ClaimedAt, now), cancellationToken);
            if (claimed == 1) return await db.KnowledgeDocuments.AsNoTracking().FirstAsync(d => d.Id == next.Id, cancellationToken);
        }
        return null;
    }

    async Task<bool> SwapAsync(AgentryDbContext db, KnowledgeDocument document, IReadOnlyList<ChunkDraft> chunks, List<Embedding<float>> vectors,
        CancellationToken cancellationToken)
    {
        var model = EmbeddingModel;
        var collection = KnowledgeSnapshot.Collection(document.KnowledgeBase);
        var now = time.GetUtcNow();
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        var rows = chunks.Select(c => new KnowledgeChunk
        {
            DocumentId = document.Id, KnowledgeBase = document.KnowledgeBase, Version = document.Version, Ordinal = c.Ordinal,
            SectionPath = c.SectionPath.Length <= 1000 ? c.SectionPath : c.SectionPath[..1000], Text = c.Text, CharStart = c.Start, CharEnd = c.End, Tokens = c.Tokens,
        }).ToList();
        // Passages of this version from an attempt that died half-way are replaced, not doubled.
        await db.KnowledgeChunks.Where(c => c.DocumentId == document.Id && c.Version == document.Version).ExecuteDeleteAsync(cancellationToken);
        db.KnowledgeChunks.AddRange(rows);
        await db.SaveChangesAsync(cancellationToken);
        for (var i = 0; i < rows.Count; i++)
        {
            db.Embeddings.Add(StoredEmbedding.Of(collection, rows[i].Id.ToString(System.Globalization.CultureInfo.InvariantCulture), model, vectors[i].Vector.Span, now));
        }
        await db.SaveChangesAsync(cancellationToken);
        db.ChangeTracker.Clear();

        await KnowledgeLibrary.DeletePassagesAsync(db, document.KnowledgeBase, db.KnowledgeChunks.Where(c => c.DocumentId == document.Id && c.Version != document.Version),
            cancellationToken);
        var marked = await db.KnowledgeDocuments.Where(d => d.Id == document.Id && d.Version == document.Version)
            .ExecuteUpdateAsync(s => s.SetProperty(d => d.Status, KnowledgeStatus.Indexed).SetProperty(d => d.IndexedVersion, document.Version)
                .SetProperty(d => d.ChunkCount, rows.Count).SetProperty(d => d.IndexedAt, now).SetProperty(d => d.EmbeddingModel, model)
                .SetProperty(d => d.Error, (string?)null).SetProperty(d => d.ClaimedAt, (DateTimeOffset?)null), cancellationToken);
        if (marked == 0) return false; // replaced while we worked: rolled back, the new version is queued
        await transaction.CommitAsync(cancellationToken);
        document.Status = KnowledgeStatus.Indexed;
        document.IndexedVersion = document.Version;
        document.ChunkCount = rows.Count;
        return true;
    }

    [LoggerMessage(EventId = 9100, Level = LogLevel.Information, Message = "Indexed {KnowledgeBase}/{Document} (version {Version}): {Chunks} passage(s)")]
    partial void LogIndexed(string knowledgeBase, string document, int version, int chunks);

    [LoggerMessage(EventId = 9101, Level = LogLevel.Warning, Message = "Could not index {KnowledgeBase}/{Document}; it is marked failed")]
    partial void LogDocumentFailed(Exception exception, string knowledgeBase, string document);

    [LoggerMessage(EventId = 9102, Level = LogLevel.Warning, Message = "The knowledge indexer failed; it tries again in a few seconds")]
    partial void LogIndexerFailed(Exception exception);

    [LoggerMessage(EventId = 9103, Level = LogLevel.Information, Message = "{Count} document(s) were embedded with another model than {Model}: queued to be embedded again")]
    partial void LogRequeued(int count, string model);
}
