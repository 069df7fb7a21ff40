using Agentry.Api;

namespace Agentry.Knowledge;

/// <summary>A document given as text: <c>name</c> is its name in the knowledge base (its extension, or <c>format</c>, says how to read it; plain text by default).</summary>
public sealed record KnowledgeTextRequest(string Name, string Text, string? Format) : IValidatable
{
    public void Validate(ValidationErrors errors)
    {
        KnowledgeApi.ValidateName(errors, "name", Name);
        if (string.IsNullOrWhiteSpace(Text)) errors.Add("text", "Required.");
        if (Format is not null && !DocumentReader.Formats.Contains(Format)) errors.Add("format", $"Must be one of {string.Join(", ", DocumentReader.Formats)}.");
    }
}

/// <summary>A question for a knowledge base; <c>topK</c> passages at most (1-20, default 5).</summary>
public sealed record KnowledgeSearchRequest(string Query, int? TopK) : IValidatable
{
    public void Validate(ValidationErrors errors)
    {
        errors.Required("query", Query, 2_000);
        errors.Range("topK", TopK, 1, 20);
    }
}

/// <summary>A knowledge base: its documents by status and its passages.</summary>
public sealed record KnowledgeBaseDto(string Name, int Documents, int Chunks, int Queued, int Failed, DateTimeOffset UpdatedAt);

/// <summary>
/// A document and where its indexing stands: <c>queued</c> or <c>indexing</c> (its previous version, if any, is still
/// the one searched), <c>indexed</c>, or <c>failed</c> with <c>error</c>.
/// </summary>
public sealed record KnowledgeDocumentDto(
    string Id, string KnowledgeBase, string Name, string Format, long Bytes, string ContentHash, int Version, int IndexedVersion, string Status, string? Error,
    int ChunkCount, string Source, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, DateTimeOffset? IndexedAt)
{
    public static KnowledgeDocumentDto From(KnowledgeDocument d) =>
        new(d.Id, d.KnowledgeBase, d.Name, d.Format, d.Bytes, d.ContentHash, d.Version, d.IndexedVersion, d.Status, d.Error, d.ChunkCount, d.Source, d.CreatedAt,
            d.UpdatedAt, d.IndexedAt);
}

/// <summary>One passage of a document: its section (headings, outermost first) and its span in the document's text.</summary>
public sealed record KnowledgeChunkDto(long Id, int Ordinal, string Section, string Text, int Start, int End, int Tokens);

/// <summary>A document with the passages that are searched now (those of <c>indexedVersion</c>).</summary>
public sealed record KnowledgeDocumentDetailDto(KnowledgeDocumentDto Document, IReadOnlyList<KnowledgeChunkDto> Chunks);

/// <summary>
/// A passage that answers the question: <c>score</c> is its fused rank (reciprocal rank fusion of the word and meaning
/// searches), <c>similarity</c> its cosine similarity in meaning, <c>match</c> which search found it (words, meaning, both).
/// </summary>
public sealed record KnowledgeSearchHitDto(
    string KnowledgeBase, string DocumentId, string Document, string Section, string Text, long ChunkId, int Start, int End, double Score, double Similarity, string Match)
{
    public static KnowledgeSearchHitDto From(KnowledgeHit hit) =>
        new(hit.Passage.KnowledgeBase, hit.Passage.DocumentId, hit.Passage.Document, hit.Passage.Section, hit.Passage.Text, hit.Passage.ChunkId, hit.Passage.Start,
            hit.Passage.End, hit.Score, hit.Similarity, hit.Match);
}

public sealed record KnowledgeSearchResult(IReadOnlyList<KnowledgeSearchHitDto> Data);
