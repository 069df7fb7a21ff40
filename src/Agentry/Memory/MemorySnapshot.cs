using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using Agentry.Data;
using Microsoft.EntityFrameworkCore;

namespace Agentry.Memory;

/// <summary>A memory as recall returns it.</summary>
public sealed record RecalledMemory(string Id, string? AgentId, string Text, string Author, DateTimeOffset CreatedAt, float Similarity);

/// <summary>
/// One user's current memories and their vectors (unit length), loaded with two indexed range reads of that user's rows and
/// searched in process: recall never looks at another user's memories, however many there are.
/// </summary>
public sealed class MemorySnapshot
{
    readonly RecalledMemory[] _memories;
    readonly float[] _vectors;
    readonly int _dimensions;

    MemorySnapshot(RecalledMemory[] memories, float[] vectors, int dimensions)
    {
        _memories = memories;
        _vectors = vectors;
        _dimensions = dimensions;
    }

    public int Count => _memories.Length;

    public static string Collection(string userId) => $"memory:{userId}";

    public static async Task<(MemorySnapshot Snapshot, long Bytes)> LoadAsync(AgentryDbContext db, string userId, string model, CancellationToken cancellationToken)
    {
        // Two range reads rather than a join: the user's current memories by (user_id, created_at), then their vectors by
        // the embeddings key (collection, model, id) — one contiguous range, streamed straight into one array. Measured on
        // a user with 10,000 memories among a million, this is what a first turn of that user waits for.
        var memories = await db.Memories.AsNoTracking().Where(m => m.UserId == userId && m.SupersededAt == null).OrderByDescending(m => m.CreatedAt)
            .Select(m => new RecalledMemory(m.Id, m.AgentId, m.Text, m.Author, m.CreatedAt, 0f)).ToArrayAsync(cancellationToken);
        var positions = new Dictionary<string, int>(memories.Length, StringComparer.Ordinal);
        for (var i = 0; i < memories.Length; i++) positions[memories[i].Id] = i;
        var collection = Collection(userId);
        float[] vectors = [];
        var dimensions = 0;
        var rows = db.Embeddings.AsNoTracking().Where(e => e.Collection == collection && e.Model == model).Select(e => new { e.Id, e.Vector }).AsAsyncEnumerable();
        await foreach (var row in rows.WithCancellation(cancellationToken))
        {
            if (!positions.TryGetValue(row.Id, out var i)) continue; // a superseded memory's vector
            if (dimensions == 0)
            {
                dimensions = row.Vector.Length / sizeof(float);
                vectors = new float[memories.Length * dimensions];
            }
            if (row.Vector.Length != dimensions * sizeof(float)) continue;
            var target = vectors.AsSpan(i * dimensions, dimensions);
            MemoryMarshal.Cast<byte, float>(row.Vector).CopyTo(target);
            Knowledge.KnowledgeSnapshot.Normalize(target);
        }
        var bytes = vectors.Length * 4L + memories.Sum(m => 120L + 2L * m.Text.Length);
        return (new MemorySnapshot(memories, vectors, dimensions), bytes);
    }

    /// <summary>
    /// The memories an agent reading under <paramref name="owner"/> sees (its own, or the shared ones), most similar to the
    /// unit-length <paramref name="query"/> first (newest first among equals); at most <paramref name="top"/>.
    /// </summary>
    public IReadOnlyList<RecalledMemory> Nearest(string? owner, ReadOnlySpan<float> query, int top)
    {
        var best = new PriorityQueue<int, (float Score, int Newer)>(top + 1);
        for (var i = 0; i < _memories.Length; i++)
        {
            if (_memories[i].AgentId != owner) continue;
            var score = query.Length == _dimensions && _dimensions > 0 ? TensorPrimitives.Dot(_vectors.AsSpan(i * _dimensions, _dimensions), query) : 0f;
            best.Enqueue(i, (score, -i)); // rows are newest first: a lower index wins a tie
            if (best.Count > top) best.Dequeue();
        }
        var result = new List<RecalledMemory>(best.Count);
        while (best.TryDequeue(out var i, out var key)) result.Add(_memories[i] with { Similarity = key.Score });
        result.Reverse();
        return result;
    }
}
