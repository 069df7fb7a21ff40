namespace Agentry.Knowledge;

/// <summary>
/// A document of a knowledge base, as extracted from its file. Its passages are <see cref="KnowledgeChunk"/>s; while a
/// replacement is indexed the chunks of the previous version stay searchable, and the indexer swaps them in one transaction.
/// </summary>
public sealed class KnowledgeDocument
{
    public required string Id { get; set; }
    public required string KnowledgeBase { get; set; }
    /// <summary>Unique within the knowledge base: a file name, or a path below the knowledge base's folder.</summary>
    public required string Name { get; set; }
    public required string Format { get; set; }
    /// <summary>SHA-256 of the file's bytes: adding the same file again changes nothing.</summary>
    public required string ContentHash { get; set; }
    /// <summary>The extracted text of the newest version (what the indexer cuts).</summary>
    public required string Text { get; set; }
    public long Bytes { get; set; }
    /// <summary>1 for the first version, one more for each replacement.</summary>
    public int Version { get; set; }
    /// <summary>The version whose chunks are searchable now (0: none yet).</summary>
    public int IndexedVersion { get; set; }
    public string Status { get; set; } = KnowledgeStatus.Queued;
    public string? Error { get; set; }
    public int ChunkCount { get; set; }
    /// <summary>The embedding model the chunks were embedded with; another model re-embeds them.</summary>
    public string? EmbeddingModel { get; set; }
    /// <summary>Where it came from: <c>api</c>, <c>folder</c> or <c>cli</c>.</summary>
    public required string Source { get; set; }
    public string? AddedBy { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }
    public DateTimeOffset? IndexedAt { get; set; }
    /// <summary>When an indexer claimed it; a claim older than Knowledge:IndexingLease is taken over.</summary>
    public DateTimeOffset? ClaimedAt { get; set; }
}

public static class KnowledgeStatus
{
    public const string Queued = "queued";
    public const string Indexing = "indexing";
    public const string Indexed = "indexed";
    public const string Failed = "failed";
}

public static class KnowledgeSources
{
    public const string Api = "api";
    public const string Folder = "folder";
    public const string Cli = "cli";
}
