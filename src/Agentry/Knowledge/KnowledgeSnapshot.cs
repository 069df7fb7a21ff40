using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using Agentry.Data;
using Microsoft.EntityFrameworkCore;

namespace Agentry.Knowledge;

/// <summary>
/// A passage as retrieval returns it: where it comes from, what it says, and its length in tokens (counted when it was
/// cut and stored with it, so putting it in a prompt does not run the tokenizer over it again each turn).
/// </summary>
public sealed record KnowledgePassage(long ChunkId, string KnowledgeBase, string DocumentId, string Document, string Section, string Text, int Start, int End, int Tokens);

/// <summary>
/// One knowledge base's passages and their vectors (unit length, so a dot product is the cosine), loaded whole and
/// searched in process, by meaning (the vectors) and by words (<see cref="KnowledgeFullText"/>): a question costs no
/// database round trip.
/// </summary>
public sealed class KnowledgeSnapshot
{
    readonly KnowledgePassage[] _passages;
    readonly VectorIndex _vectors;
    readonly Dictionary<long, int> _index;
    readonly KnowledgeFullText _words;

    KnowledgeSnapshot(KnowledgePassage[] passages, VectorIndex vectors, KnowledgeFullText words)
    {
        _passages = passages;
        _words = words;
        _vectors = vectors;
        _index = new Dictionary<long, int>(passages.Length);
        for (var i = 0; i < passages.Length; i++) _index[passages[i].ChunkId] = i;
    }

    public int Dimensions => _vectors.Dimensions;
    public int Count => _passages.Length;

    public static string Collection(string knowledgeBase) => $"kb:{knowledgeBase}";

    public static async Task<(KnowledgeSnapshot Snapshot, long Bytes)> LoadAsync(AgentryDbContext db, string knowledgeBase, string model, CancellationToken cancellationToken)
    {
        var passages = await (
            from c in db.KnowledgeChunks.AsNoTracking()
            join d in db.KnowledgeDocuments.AsNoTracking() on c.DocumentId equals d.Id
            where c.KnowledgeBase == knowledgeBase
            orderby c.Id
            select new KnowledgePassage(c.Id, c.KnowledgeBase, c.DocumentId, d.Name, c.SectionPath, c.Text, c.CharStart, c.CharEnd, c.Tokens)).ToArrayAsync(cancellationToken);
        var collection = Collection(knowledgeBase);
        var stored = await db.Embeddings.AsNoTracking().Where(e => e.Collection == collection && e.Model == model)
            .Select(e => new { e.Id, e.Vector, e.Dimensions }).ToListAsync(cancellationToken);
        var dimensions = stored.Count > 0 ? stored[0].Dimensions : 0;
        var vectors = new float[passages.Length * dimensions];
        var hasVector = new bool[passages.Length];
        var positions = new Dictionary<string, int>(passages.Length);
        for (var i = 0; i < passages.Length; i++) positions[passages[i].ChunkId.ToString(System.Globalization.CultureInfo.InvariantCulture)] = i;
        foreach (var row in stored)
        {
            if (row.Dimensions != dimensions || !positions.TryGetValue(row.Id, out var i)) continue; // a vector of a chunk already replaced
            var target = vectors.AsSpan(i * dimensions, dimensions);
            MemoryMarshal.Cast<byte, float>(row.Vector).CopyTo(target);
            Normalize(target);
            hasVector[i] = true;
        }
        var words = KnowledgeFullText.Build(passages);
        var index = new VectorIndex(vectors, hasVector, dimensions);
        var bytes = vectors.Length * 4L + index.Bytes + passages.Sum(p => 96L + 2L * (p.Text.Length + p.Section.Length + p.Document.Length)) + words.Bytes;
        return (new KnowledgeSnapshot(passages, index, words), bytes);
    }

    public static void Normalize(Span<float> vector)
    {
        var norm = TensorPrimitives.Norm(vector);
        if (norm > 0) TensorPrimitives.Divide(vector, norm, vector);
    }

    public KnowledgePassage? Find(long chunkId) => _index.TryGetValue(chunkId, out var i) ? _passages[i] : null;

    /// <summary>Cosine similarity of a passage to a unit-length query; null when the passage has no vector of this model yet.</summary>
    public float? Similarity(long chunkId, ReadOnlySpan<float> query) => _index.TryGetValue(chunkId, out var i) ? _vectors.Similarity(i, query) : null;

    /// <summary>The <paramref name="top"/> passages sharing most of the (stemmed) words, by BM25, best first.</summary>
    public IReadOnlyList<(KnowledgePassage Passage, double Score)> Matching(IReadOnlyList<string> terms, int top) =>
        _words.Match(terms, top).Select(m => (_passages[m.Passage], m.Score)).ToList();

    /// <summary>The <paramref name="top"/> passages most similar to a unit-length query, best first.</summary>
    public IReadOnlyList<(KnowledgePassage Passage, float Similarity)> Nearest(ReadOnlySpan<float> query, int top) =>
        _vectors.Nearest(query, top).Select(n => (_passages[n.Index], n.Similarity)).ToList();
}
