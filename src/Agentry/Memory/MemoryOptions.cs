using System.ComponentModel.DataAnnotations;

namespace Agentry.Memory;

/// <summary>What is kept in process for retrieval, and (long-term memory) what agents remember about users.</summary>
public sealed class MemoryOptions
{
    public const string Section = "Memory";

    /// <summary>
    /// Memory for what retrieval keeps in process: each knowledge base's passages and vectors, each recently seen user's
    /// memories. Searched there, they cost no database round trip; the least recently used go first when it is full.
    /// </summary>
    [Range(1, 65_536)]
    public int CacheMegabytes { get; set; } = 256;

    /// <summary>
    /// Longest an instance keeps what it loaded. A change made through this instance (or, with Redis, through any)
    /// replaces it at once; this bounds how long one made where it cannot hear of it is missed.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")]
    public TimeSpan CacheDuration { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Most memories of a user considered for a turn's context (the most related to the message).</summary>
    [Range(1, 100)]
    public int RecallTopK { get; set; } = 8;

    /// <summary>Most tokens (o200k) of memories added to an agent's context; the most related go in first.</summary>
    [Range(50, 20_000)]
    public int MaxContextTokens { get; set; } = 500;
}
