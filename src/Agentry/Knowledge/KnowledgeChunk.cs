namespace Agentry.Knowledge;

/// <summary>
/// One passage of a document: a run of one section's paragraphs of at most Knowledge:ChunkTokens tokens. The integer id
/// is also its row in the full-text index (SQLite FTS5 <c>knowledge_fts</c>; on PostgreSQL a generated <c>tsvector</c>
/// column) and, as text, its vector's id in the <c>kb:NAME</c> collection.
/// </summary>
public sealed class KnowledgeChunk
{
    public long Id { get; set; }
    public required string DocumentId { get; set; }
    public required string KnowledgeBase { get; set; }
    /// <summary>The document version it was cut from.</summary>
    public int Version { get; set; }
    /// <summary>Position within the document, from 0.</summary>
    public int Ordinal { get; set; }
    /// <summary>The headings above it, outermost first, joined by " › " (a PDF's: "Page N").</summary>
    public required string SectionPath { get; set; }
    public required string Text { get; set; }
    /// <summary>Where it starts and ends in the document's extracted text (characters; chunks of one section overlap).</summary>
    public int CharStart { get; set; }
    public int CharEnd { get; set; }
    public int Tokens { get; set; }
}
