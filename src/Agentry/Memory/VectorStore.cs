using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using Agentry.Data;
using Microsoft.EntityFrameworkCore;

namespace Agentry.Memory;

/// <summary>A stored vector's id and how similar (cosine) it is to the query.</summary>
public sealed record VectorMatch(string Id, float Score);

/// <summary>
/// Where embeddings are kept and searched. One interface, so a vector index (pgvector, when a deployment has the
/// extension) can replace the portable store without touching callers.
/// </summary>
public interface IVectorStore
{
    /// <summary>Ids already stored in a collection for a model (so callers embed only what is new).</summary>
    Task<HashSet<string>> IdsAsync(string collection, string model, CancellationToken cancellationToken);

    Task AddAsync(string collection, string model, IReadOnlyList<(string Id, ReadOnlyMemory<float> Vector)> vectors, CancellationToken cancellationToken);

    /// <summary>The <paramref name="top"/> most similar vectors of the collection with a score of at least <paramref name="minScore"/>, best first.</summary>
    Task<IReadOnlyList<VectorMatch>> SearchAsync(string collection, string model, ReadOnlyMemory<float> query, int top, float minScore, CancellationToken cancellationToken);

    Task<int> DeleteCollectionAsync(string collection, CancellationToken cancellationToken);
}

/// <summary>
/// Vectors in the <c>embeddings</c> table of whichever database the service uses; similarity is computed in process
/// with <see cref="TensorPrimitives"/>, streaming one collection's rows and keeping the best <c>top</c>. Collections
/// here are small (one conversation's messages), so a scan costs less than keeping an index in step. It saves on the
/// context it is given: resolve it from a scope of its own, never from one holding a turn's unsaved changes.
/// </summary>
public sealed class DatabaseVectorStore(AgentryDbContext db, TimeProvider time) : IVectorStore
{
    public async Task<HashSet<string>> IdsAsync(string collection, string model, CancellationToken cancellationToken) =>
        [.. await db.Embeddings.AsNoTracking().Where(e => e.Collection == collection && e.Model == model).Select(e => e.Id).ToListAsync(cancellationToken)];

    public async Task AddAsync(string collection, string model, IReadOnlyList<(string Id, ReadOnlyMemory<float> Vector)> vectors, CancellationToken cancellationToken)
    {
        if (vectors.Count == 0) return;
        var now = time.GetUtcNow();
        foreach (var (id, vector) in vectors)
        {
            db.Embeddings.Add(StoredEmbedding.Of(collection, id, model, vector.Span, now));
        }
        try
        {
            await db.SaveChangesAsync(cancellationToken);
        }
        catch (DbUpdateException e) when (IsDuplicateKey(e))
        {
            // Another request stored the same vectors first: theirs are as good as ours.
        }
        finally
        {
            // This context is the store's own (see ConversationSearch): forgetting what it saved drops nothing anyone else staged.
            db.ChangeTracker.Clear();
        }
    }

    public async Task<IReadOnlyList<VectorMatch>> SearchAsync(string collection, string model, ReadOnlyMemory<float> query, int top, float minScore, CancellationToken cancellationToken)
    {
        var best = new PriorityQueue<VectorMatch, float>(top + 1);
        var rows = db.Embeddings.AsNoTracking()
            .Where(e => e.Collection == collection && e.Model == model && e.Dimensions == query.Length)
            .Select(e => new { e.Id, e.Vector }).AsAsyncEnumerable();
        await foreach (var row in rows.WithCancellation(cancellationToken))
        {
            var score = TensorPrimitives.CosineSimilarity(query.Span, MemoryMarshal.Cast<byte, float>(row.Vector));
            if (score < minScore) continue;
            best.Enqueue(new VectorMatch(row.Id, score), score);
            if (best.Count > top) best.Dequeue();
        }
        var matches = new List<VectorMatch>(best.Count);
        while (best.TryDequeue(out var match, out _)) matches.Add(match);
        matches.Reverse();
        return matches;
    }

    static bool IsDuplicateKey(DbUpdateException e) => e.InnerException switch
    {
        Microsoft.Data.Sqlite.SqliteException sqlite => sqlite.SqliteErrorCode == 19 && sqlite.SqliteExtendedErrorCode is 1555 or 2067, // PRIMARYKEY, UNIQUE
        Npgsql.PostgresException postgres => postgres.SqlState == Npgsql.PostgresErrorCodes.UniqueViolation,
        _ => false,
    };

    public Task<int> DeleteCollectionAsync(string collection, CancellationToken cancellationToken) =>
        db.Embeddings.Where(e => e.Collection == collection).ExecuteDeleteAsync(cancellationToken);
}
