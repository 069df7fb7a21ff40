namespace Agentry.Agents;

/// <summary>
/// One immutable version of an agent: its definition as it was, with who changed it and when. A new one is recorded
/// whenever an agent's content changes, through the API or in its file; turns and eval results name the version by its
/// <see cref="Hash"/>.
/// </summary>
public sealed class AgentVersion
{
    public required string AgentId { get; set; }
    /// <summary>1, 2, 3… per agent.</summary>
    public int Version { get; set; }
    /// <summary>The first 12 hex digits of the SHA-256 of the definition's JSON (<see cref="AgentVersions.Hash"/>).</summary>
    public required string Hash { get; set; }
    /// <summary>The definition's JSON, as stored for API agents.</summary>
    public required string Definition { get; set; }
    /// <summary><c>file</c>, <c>api</c> or <c>restore</c>.</summary>
    public required string Source { get; set; }
    /// <summary>The key that made the change (null for a file: the file's history is in version control).</summary>
    public string? AuthorKeyId { get; set; }
    /// <summary>The version a restore brought back.</summary>
    public int? RestoredFrom { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
}
