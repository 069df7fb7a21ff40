using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using Agentry.Data;
using Microsoft.EntityFrameworkCore;

namespace Agentry.Memory;

/// <summary>A memory as recall returns it.</summary>
public sealed record RecalledMemory(string Id, string? AgentId, string Text, string Author, DateTimeOffset CreatedAt, float Similarity);

/// <summary>
/// One user's current memories and their vectors (unit length), loaded with one indexed read of that user's rows and
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
        var collection = Collection(userId);
        // One round trip: the user's current memories with their vectors of this model (a memory without one is still recalled, last).
        var rows = await (
            from m in db.Memories.AsNoTracking()
            where m.UserId == userId && m.SupersededAt == null
            join e in db.Embeddings.AsNoTracking().Where(e => e.Collection == collection && e.Model == model) on m.Id equals e.Id into found
            from e in found.DefaultIfEmpty()
            orderby m.CreatedAt descending
            select new { m.Id, m.AgentId, m.Text, m.Author, m.CreatedAt, Vector = e == null ? null : e.Vector }).ToListAsync(cancellationToken);
        var dimensions = rows.FirstOrDefault(r => r.Vector is not null)?.Vector!.Length / sizeof(float) ?? 0;
        var memories = new RecalledMemory[rows.Count];
        var vectors = new float[rows.Count * dimensions];
        for (var i = 0; i < rows.Count; i++)
        {
            var row = rows[i];
            memories[i] = new RecalledMemory(row.Id, row.AgentId, row.Text, row.Author, row.CreatedAt, 0);
            if (row.Vector is null || row.Vector.Length != dimensions * sizeof(float)) continue;
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
