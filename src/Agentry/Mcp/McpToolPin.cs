namespace Agentry.Mcp;

/// <summary>
/// The tool list of an MCP server as an admin accepted it: each tool's name and the hash of its definition (description,
/// input and output schemas, annotations). A server that later lists something else (a changed description, a new tool)
/// has that change held in <see cref="PendingTools"/> until an admin approves it; meanwhile only tools whose definition is
/// pinned are offered to agents. Kept in the database, so every instance holds the same line.
/// </summary>
public sealed class McpToolPin
{
    public required string Server { get; set; }
    /// <summary>JSON array of the approved tools (<see cref="McpToolFingerprint"/>).</summary>
    public required string Tools { get; set; }
    /// <summary>Hash of the whole approved list.</summary>
    public required string Hash { get; set; }
    public DateTimeOffset PinnedAt { get; set; }
    /// <summary>Who accepted it: the key that added the server, the one that approved a change, or <c>settings</c>.</summary>
    public required string PinnedBy { get; set; }
    /// <summary>JSON array of the listing awaiting approval, with descriptions, or null.</summary>
    public string? PendingTools { get; set; }
    public string? PendingHash { get; set; }
    public DateTimeOffset? PendingSince { get; set; }
}

/// <summary>One tool as pinned: its name, the hash of its definition, and its description (for the admin who approves).</summary>
public sealed record McpToolFingerprint(string Name, string Hash, string Description);

/// <summary>How a listing differs from the pin: a tool <c>added</c>, <c>changed</c> or <c>removed</c>.</summary>
public sealed record McpToolChange(string Name, string Change, string? Description);
