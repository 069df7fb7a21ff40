using System.Security.Cryptography;
using Agentry.Audit;
using Agentry.Data;
using Agentry.Memory;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Agentry.Knowledge;

/// <summary>A file to add: its name (the document's name), its format when declared (else from the name's extension) and its bytes.</summary>
public sealed record KnowledgeUpload(string Name, string? Format, byte[] Content);

/// <summary>What adding a file did: a new document, a new version of one, or nothing (the same file was there).</summary>
public enum KnowledgeChange { Added, Replaced, Unchanged }

/// <summary>
/// Adds, replaces and removes documents for the API, the command line and the knowledge folder alike. Adding reads the
/// file at once (so a file that cannot be read is refused with the reason) and queues it; <see cref="KnowledgeIndexer"/>
/// cuts and embeds it and makes the new passages searchable in one transaction, the old ones staying until then.
/// Removing takes the passages, their vectors and the document out in one transaction.
/// </summary>
public sealed class KnowledgeLibrary(AgentryDbContext db, KnowledgeIndexer indexer, SnapshotCache cache, AuditLog audit, IOptions<KnowledgeOptions> options, TimeProvider time)
{
    public async Task<(KnowledgeDocument Document, KnowledgeChange Change)> AddAsync(string knowledgeBase, KnowledgeUpload upload, string source, AuditActor actor,
        CancellationToken cancellationToken)
    {
        var existing = await db.KnowledgeDocuments.FirstOrDefaultAsync(d => d.KnowledgeBase == knowledgeBase && d.Name == upload.Name, cancellationToken);
        return await StoreAsync(existing, knowledgeBase, upload, source, actor, cancellationToken);
    }

    public Task<(KnowledgeDocument Document, KnowledgeChange Change)> ReplaceAsync(KnowledgeDocument document, KnowledgeUpload upload, string source, AuditActor actor,
        CancellationToken cancellationToken) =>
        StoreAsync(document, document.KnowledgeBase, upload with { Name = document.Name }, source, actor, cancellationToken);

    async Task<(KnowledgeDocument, KnowledgeChange)> StoreAsync(KnowledgeDocument? existing, string knowledgeBase, KnowledgeUpload upload, string source, AuditActor actor,
        CancellationToken cancellationToken)
    {
        var format = upload.Format ?? DocumentReader.FormatOf(upload.Name)
            ?? throw new DocumentUnreadableException($"'{upload.Name}' has no extension Agentry reads (.md, .txt, .html, .pdf) and no format was given.", DocumentProblem.UnsupportedFormat);
        if (upload.Content.LongLength > options.Value.MaxUploadBytes)
            throw new DocumentUnreadableException($"The file is {upload.Content.LongLength:N0} bytes; at most {options.Value.MaxUploadBytes:N0} are accepted (Knowledge:MaxUploadBytes).",
                DocumentProblem.TooLarge);
        var hash = Convert.ToHexStringLower(SHA256.HashData(upload.Content));
        if (existing is not null && existing.ContentHash == hash && existing.Format == format && existing.Status != KnowledgeStatus.Failed)
            return (existing, KnowledgeChange.Unchanged);
        var extracted = DocumentReader.Read(format, upload.Content, options.Value.MaxDocumentChars);

        var now = time.GetUtcNow();
        var change = existing is null ? KnowledgeChange.Added : KnowledgeChange.Replaced;
        var document = existing ?? new KnowledgeDocument
        {
            Id = Ids.New(Ids.DocumentPrefix), KnowledgeBase = knowledgeBase, Name = upload.Name, Format = format, ContentHash = hash, Text = "", Source = source, CreatedAt = now,
        };
        document.Format = format;
        document.ContentHash = hash;
        document.Text = extracted.Text;
        document.Bytes = upload.Content.LongLength;
        document.Version++;
        document.Status = KnowledgeStatus.Queued;
        document.Error = null;
        document.ClaimedAt = null;
        document.Source = source;
        document.AddedBy = actor.Actor;
        document.UpdatedAt = now;
        if (existing is null) db.KnowledgeDocuments.Add(document);
        audit.Stage(db, actor, change == KnowledgeChange.Added ? AuditActions.KnowledgeDocumentAdded : AuditActions.KnowledgeDocumentReplaced,
            $"knowledge:{knowledgeBase}/{document.Id}", detail: new { document.Name, document.Format, document.Bytes, document.Version, hash });
        try
        {
            await db.SaveChangesAsync(cancellationToken);
        }
        catch (DbUpdateException) when (existing is null)
        {
            // The same name was added by another request a moment ago: this upload replaces that one.
            db.ChangeTracker.Clear();
            var winner = await db.KnowledgeDocuments.FirstAsync(d => d.KnowledgeBase == knowledgeBase && d.Name == upload.Name, cancellationToken);
            return await StoreAsync(winner, knowledgeBase, upload, source, actor, cancellationToken);
        }
        indexer.Signal();
        return (document, change);
    }

    /// <summary>Removes a document, its passages and their vectors in one transaction.</summary>
    public async Task RemoveAsync(KnowledgeDocument document, AuditActor actor, CancellationToken cancellationToken)
    {
        await using (var transaction = await db.Database.BeginTransactionAsync(cancellationToken))
        {
            await DeletePassagesAsync(db, document.KnowledgeBase, db.KnowledgeChunks.Where(c => c.DocumentId == document.Id), cancellationToken);
            await db.KnowledgeDocuments.Where(d => d.Id == document.Id).ExecuteDeleteAsync(cancellationToken);
            await audit.RecordAsync(db, actor, AuditActions.KnowledgeDocumentRemoved, $"knowledge:{document.KnowledgeBase}/{document.Id}",
                detail: new { document.Name }, cancellationToken: cancellationToken);
            await transaction.CommitAsync(cancellationToken);
        }
        await cache.InvalidateAsync(KnowledgeSearch.CacheKey(document.KnowledgeBase));
    }

    /// <summary>Removes every document of a knowledge base; returns how many there were.</summary>
    public async Task<int> RemoveBaseAsync(string knowledgeBase, AuditActor actor, CancellationToken cancellationToken)
    {
        int removed;
        await using (var transaction = await db.Database.BeginTransactionAsync(cancellationToken))
        {
            await db.KnowledgeChunks.Where(c => c.KnowledgeBase == knowledgeBase).ExecuteDeleteAsync(cancellationToken);
            var collection = KnowledgeSnapshot.Collection(knowledgeBase);
            await db.Embeddings.Where(e => e.Collection == collection).ExecuteDeleteAsync(cancellationToken);
            removed = await db.KnowledgeDocuments.Where(d => d.KnowledgeBase == knowledgeBase).ExecuteDeleteAsync(cancellationToken);
            if (removed > 0)
                await audit.RecordAsync(db, actor, AuditActions.KnowledgeBaseRemoved, $"knowledge:{knowledgeBase}", detail: new { documents = removed }, cancellationToken: cancellationToken);
            await transaction.CommitAsync(cancellationToken);
        }
        await cache.InvalidateAsync(KnowledgeSearch.CacheKey(knowledgeBase));
        return removed;
    }

    /// <summary>Deletes passages and their vectors (the caller holds the transaction).</summary>
    internal static async Task DeletePassagesAsync(AgentryDbContext db, string knowledgeBase, IQueryable<KnowledgeChunk> passages, CancellationToken cancellationToken)
    {
        var ids = (await passages.Select(c => c.Id).ToListAsync(cancellationToken)).Select(id => id.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToList();
        var collection = KnowledgeSnapshot.Collection(knowledgeBase);
        foreach (var batch in ids.Chunk(500))
            await db.Embeddings.Where(e => e.Collection == collection && batch.Contains(e.Id)).ExecuteDeleteAsync(cancellationToken);
        await passages.ExecuteDeleteAsync(cancellationToken);
    }
}
