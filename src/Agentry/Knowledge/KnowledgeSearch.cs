using Agentry.Data;
using Agentry.Memory;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;

namespace Agentry.Knowledge;

/// <summary>A passage found for a question: its fused rank score, its similarity in meaning, and which halves of the search found it.</summary>
public sealed record KnowledgeHit(KnowledgePassage Passage, double Score, double Similarity, string Match);

/// <summary>Finds the passages of knowledge bases that answer a question.</summary>
public interface IKnowledgeSearch
{
    Task<IReadOnlyList<KnowledgeHit>> SearchAsync(IReadOnlyList<string> knowledgeBases, string query, int top, CancellationToken cancellationToken);
}

/// <summary>
/// Hybrid retrieval: the full-text index (words, stemmed) and the vectors (meaning) each rank candidates, and reciprocal
/// rank fusion (k = 60) merges the two lists, so a passage both find comes first and a passage only one finds still
/// counts. A floor on similarity keeps out what only shares words: a question no passage is about (by meaning)
/// retrieves nothing, and the agent is told so. No database round trip: the passages, their words and vectors are searched in process.
/// </summary>
public sealed partial class KnowledgeSearch(
    SnapshotCache cache, [FromKeyedServices(RetrievalEmbeddings.Key)] IEmbeddingGenerator<string, Embedding<float>> embeddings,
    IOptions<KnowledgeOptions> options, ILogger<KnowledgeSearch> logger) : IKnowledgeSearch
{
    /// <summary>How many candidates each half proposes.</summary>
    const int Candidates = 20;
    const double RankConstant = 60;
    /// <summary>A passage of an answered question is kept down to this share of Knowledge:MinSimilarity.</summary>
    const double PassageFloor = 0.6;

    public static string CacheKey(string knowledgeBase) => KnowledgeSnapshot.Collection(knowledgeBase);

    public string EmbeddingModel => StoredEmbedding.ModelOf(embeddings);

    public Task<KnowledgeSnapshot> SnapshotAsync(string knowledgeBase, CancellationToken cancellationToken) =>
        cache.GetAsync(CacheKey(knowledgeBase), (context, ct) => KnowledgeSnapshot.LoadAsync(context, knowledgeBase, EmbeddingModel, ct), cancellationToken);

    public async Task<IReadOnlyList<KnowledgeHit>> SearchAsync(IReadOnlyList<string> knowledgeBases, string query, int top, CancellationToken cancellationToken)
    {
        if (knowledgeBases.Count == 0 || string.IsNullOrWhiteSpace(query) || top <= 0) return [];
        var snapshots = new List<KnowledgeSnapshot>();
        foreach (var kb in knowledgeBases.Distinct(StringComparer.Ordinal)) snapshots.Add(await SnapshotAsync(kb, cancellationToken));
        if (snapshots.All(s => s.Count == 0)) return [];

        float[] vector;
        try
        {
            vector = (await embeddings.GenerateVectorAsync(query, cancellationToken: cancellationToken)).ToArray();
        }
        catch (Exception e) when (RetrievalEmbeddings.IsUnavailable(e, cancellationToken))
        {
            // The provider's embedding model is down: the words still find passages (no similarity floor can apply).
            LogMeaningUnavailable(e.Message);
            return ByWords(snapshots, query, top)
                .Select((passage, rank) => new KnowledgeHit(passage, Math.Round(1 / (RankConstant + rank + 1), 5), 0, "words")).ToList();
        }
        KnowledgeSnapshot.Normalize(vector);
        var byMeaning = snapshots.SelectMany(s => s.Nearest(vector, Candidates)).OrderByDescending(h => h.Similarity).Take(Candidates).ToList();
        var byWords = ByWords(snapshots, query, Candidates);

        var fused = new Dictionary<long, (KnowledgePassage Passage, double Score, float? Similarity, bool Words, bool Meaning)>();
        for (var rank = 0; rank < byMeaning.Count; rank++)
        {
            var (passage, similarity) = byMeaning[rank];
            fused[passage.ChunkId] = (passage, 1 / (RankConstant + rank + 1), similarity, false, true);
        }
        for (var rank = 0; rank < byWords.Count; rank++)
        {
            var passage = byWords[rank];
            var score = 1 / (RankConstant + rank + 1);
            if (fused.TryGetValue(passage.ChunkId, out var both)) { fused[passage.ChunkId] = both with { Score = both.Score + score, Words = true }; continue; }
            // Found by its words only: its similarity still decides whether it is about the question at all.
            var similarity = snapshots.Select(s => s.Similarity(passage.ChunkId, vector)).FirstOrDefault(s => s is not null);
            fused[passage.ChunkId] = (passage, score, similarity, true, false);
        }
        // A question is about the knowledge base when some passage is at least MinSimilarity like it; then the fused
        // ranking decides, among passages not far below that (a passage found by its words may score lower in meaning).
        var floor = options.Value.MinSimilarity;
        if (fused.Values.Max(f => f.Similarity ?? 0) < floor) return [];
        return fused.Values
            .Where(f => f.Similarity is { } similarity && similarity >= floor * PassageFloor)
            .OrderByDescending(f => f.Score).ThenByDescending(f => f.Similarity)
            .Take(top)
            .Select(f => new KnowledgeHit(f.Passage, Math.Round(f.Score, 5), Math.Round(f.Similarity!.Value, 4), f.Words && f.Meaning ? "both" : f.Words ? "words" : "meaning"))
            .ToList();
    }

    /// <summary>The passages of all the knowledge bases sharing most of the question's words, best first.</summary>
    static List<KnowledgePassage> ByWords(List<KnowledgeSnapshot> snapshots, string query, int top)
    {
        var terms = KnowledgeFullText.Terms(query);
        return snapshots.SelectMany(s => s.Matching(terms, top)).OrderByDescending(m => m.Score).Take(top).Select(m => m.Passage).ToList();
    }

    [LoggerMessage(EventId = 9106, Level = LogLevel.Warning,
        Message = "The embedding model could not be reached ({Reason}); knowledge is searched by words only until it answers")]
    partial void LogMeaningUnavailable(string reason);
}
