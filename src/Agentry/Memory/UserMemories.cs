using Agentry.Audit;
using Agentry.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.AI;

namespace Agentry.Memory;

/// <summary>
/// A fact a turn learned (the <c>remember</c> tool), stored when the turn is: the owner it is kept under (the agent that
/// saved it, or null for shared), its vector, and the memory it replaces.
/// </summary>
public sealed record MemoryNote(string Text, string? Replaces, string? Owner, ReadOnlyMemory<float> Vector);

/// <summary>
/// Long-term memory: recall for a user (their memories only, loaded once into the process and searched there), and the
/// writes the API makes. A turn's memories are written by the turn's one writer (<see cref="Conversations.TurnStore"/>)
/// through <see cref="Stage"/>.
/// </summary>
public sealed class UserMemories(
    AgentryDbContext db, SnapshotCache cache, [FromKeyedServices(Knowledge.RetrievalEmbeddings.Key)] IEmbeddingGenerator<string, Embedding<float>> embeddings, AuditLog audit, TimeProvider time)
{
    public const string IdPrefix = "mem";
    public const int MaxTextLength = 1_000;

    public string EmbeddingModel => StoredEmbedding.ModelOf(embeddings);

    public static string CacheKey(string userId) => MemorySnapshot.Collection(userId);

    public Task<MemorySnapshot> SnapshotAsync(string userId, CancellationToken cancellationToken) =>
        cache.GetAsync(CacheKey(userId), (context, ct) => MemorySnapshot.LoadAsync(context, userId, EmbeddingModel, ct), cancellationToken);

    /// <summary>The user's memories an agent reading under <paramref name="owner"/> sees, most related to <paramref name="query"/> first.</summary>
    public async Task<IReadOnlyList<RecalledMemory>> RecallAsync(string userId, string? owner, string query, int top, CancellationToken cancellationToken)
    {
        var snapshot = await SnapshotAsync(userId, cancellationToken);
        if (snapshot.Count == 0) return [];
        float[] vector = [];
        try
        {
            if (!string.IsNullOrWhiteSpace(query)) vector = (await embeddings.GenerateVectorAsync(query, cancellationToken: cancellationToken)).ToArray();
        }
        catch (Exception e) when (Knowledge.RetrievalEmbeddings.IsUnavailable(e, cancellationToken))
        {
            vector = []; // the provider's embedding model is down: the newest memories come first instead of the most related
        }
        Knowledge.KnowledgeSnapshot.Normalize(vector);
        return snapshot.Nearest(owner, vector, top);
    }

    public async Task<ReadOnlyMemory<float>> EmbedAsync(string text, CancellationToken cancellationToken) =>
        await embeddings.GenerateVectorAsync(text, cancellationToken: cancellationToken);

    /// <summary>Whether <paramref name="memoryId"/> is a current memory of the user under <paramref name="owner"/> (what a new one may replace).</summary>
    public Task<bool> IsCurrentAsync(string userId, string? owner, string memoryId, CancellationToken cancellationToken) =>
        db.Memories.AsNoTracking().AnyAsync(m => m.Id == memoryId && m.UserId == userId && m.AgentId == owner && m.SupersededAt == null, cancellationToken);

    /// <summary>Adds a memory and its vector to <paramref name="context"/>'s unit of work (the caller saves).</summary>
    public static void Stage(AgentryDbContext context, UserMemory memory, ReadOnlyMemory<float> vector, string model)
    {
        context.Memories.Add(memory);
        context.Embeddings.Add(StoredEmbedding.Of(MemorySnapshot.Collection(memory.UserId), memory.Id, model, vector.Span, memory.CreatedAt));
    }

    /// <summary>Marks the memory <paramref name="oldId"/> replaced by <paramref name="newId"/>; run inside the transaction that saves the new one.</summary>
    public static Task<int> SupersedeAsync(AgentryDbContext context, string userId, string oldId, string newId, DateTimeOffset at, CancellationToken cancellationToken) =>
        context.Memories.Where(m => m.Id == oldId && m.UserId == userId && m.SupersededAt == null)
            .ExecuteUpdateAsync(s => s.SetProperty(m => m.SupersededAt, at).SetProperty(m => m.SupersededBy, newId), cancellationToken);

    /// <summary>A memory written through the API, audited; replaces <paramref name="supersedes"/> in the same transaction.</summary>
    public async Task<UserMemory> AddAsync(string userId, string text, string? agentId, string author, string? supersedes, AuditActor actor, string keyId,
        CancellationToken cancellationToken)
    {
        var vector = await EmbedAsync(text, cancellationToken);
        var memory = new UserMemory
        {
            Id = Ids.New(IdPrefix), UserId = userId, AgentId = agentId, Text = text, Author = author, KeyId = keyId, CreatedAt = time.GetUtcNow(),
        };
        Stage(db, memory, vector, EmbeddingModel);
        audit.Stage(db, actor, AuditActions.MemoryAdded, $"memory:{memory.Id}", detail: new { user = UserHash.Of(userId), agentId, supersedes });
        await using (var transaction = await db.Database.BeginTransactionAsync(cancellationToken))
        {
            await db.SaveChangesAsync(cancellationToken);
            if (supersedes is not null) await SupersedeAsync(db, userId, supersedes, memory.Id, memory.CreatedAt, cancellationToken);
            await transaction.CommitAsync(cancellationToken);
        }
        await cache.InvalidateAsync(CacheKey(userId));
        return memory;
    }

    /// <summary>Deletes one memory and its vector (not kept as superseded: the user asked for it to go); false when there is none.</summary>
    public async Task<bool> DeleteAsync(string userId, string memoryId, AuditActor actor, CancellationToken cancellationToken)
    {
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        var removed = await db.Memories.Where(m => m.Id == memoryId && m.UserId == userId).ExecuteDeleteAsync(cancellationToken);
        if (removed == 0) return false;
        var collection = MemorySnapshot.Collection(userId);
        await db.Embeddings.Where(e => e.Collection == collection && e.Id == memoryId).ExecuteDeleteAsync(cancellationToken);
        await audit.RecordAsync(db, actor, AuditActions.MemoryRemoved, $"memory:{memoryId}", detail: new { user = UserHash.Of(userId) }, cancellationToken: cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        await cache.InvalidateAsync(CacheKey(userId));
        return true;
    }
}
