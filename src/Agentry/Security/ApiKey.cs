namespace Agentry.Security;

/// <summary>An API key. Only a SHA-256 hash of the secret is stored; the secret is shown once, at creation or rotation.</summary>
public sealed class ApiKey
{
    public required string Id { get; set; }
    public required string Name { get; set; }
    /// <summary>The first characters of the secret (<c>agk_AbCd1234</c>), safe to show in lists, logs and the audit log.</summary>
    public required string Prefix { get; set; }
    /// <summary>Hex SHA-256 of the secret. Keys carry 256 random bits, so a fast hash is enough; no salt or KDF is needed.</summary>
    public required string Hash { get; set; }
    /// <summary>Space-separated scopes.</summary>
    public required string Scopes { get; set; }
    public DateTimeOffset? ExpiresAt { get; set; }
    public int? RequestsPerMinute { get; set; }
    public int? ConcurrentRequests { get; set; }
    public int? TokensPerMinute { get; set; }
    public int? TokensPerDay { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset? LastUsedAt { get; set; }
    public DateTimeOffset? RevokedAt { get; set; }
}

/// <summary>What a key may do. <c>admin</c> includes every other scope.</summary>
public static class Scopes
{
    public const string Admin = "admin";
    public const string AgentsWrite = "agents:write";
    public const string Chat = "chat";
    public const string Read = "read";
    /// <summary>Add, replace and remove knowledge-base documents (what agents answer from).</summary>
    public const string KnowledgeWrite = "knowledge:write";
    /// <summary>Scraping /metrics and nothing else: what a Prometheus server should hold instead of an admin key.</summary>
    public const string Metrics = "metrics";

    public static readonly IReadOnlyList<string> All = [Admin, AgentsWrite, KnowledgeWrite, Chat, Read, Metrics];

    public static bool IsKnown(string scope) => All.Contains(scope);
}

/// <summary>Authorization policy names; each lists the scopes that satisfy it.</summary>
public static class Policies
{
    /// <summary>Key management, audit log, anything that changes security.</summary>
    public const string Admin = "admin";
    /// <summary>Create, change, delete and reload agents.</summary>
    public const string AgentsWrite = "agents-write";
    /// <summary>List and read agents (and the tool list).</summary>
    public const string ReadAgents = "read-agents";
    /// <summary>Start conversations and run turns.</summary>
    public const string Chat = "chat";
    /// <summary>List and read conversations and messages (non-admin keys see only their own).</summary>
    public const string ReadConversations = "read-conversations";
    /// <summary>Add, replace and remove knowledge-base documents.</summary>
    public const string KnowledgeWrite = "knowledge-write";
    /// <summary>List, read and search knowledge bases.</summary>
    public const string ReadKnowledge = "read-knowledge";

    public static readonly IReadOnlyDictionary<string, string[]> AllowedScopes = new Dictionary<string, string[]>
    {
        [Admin] = [Scopes.Admin],
        [AgentsWrite] = [Scopes.Admin, Scopes.AgentsWrite],
        [ReadAgents] = [Scopes.Admin, Scopes.AgentsWrite, Scopes.Read],
        [Chat] = [Scopes.Admin, Scopes.Chat],
        [ReadConversations] = [Scopes.Admin, Scopes.Chat, Scopes.Read],
        [KnowledgeWrite] = [Scopes.Admin, Scopes.KnowledgeWrite],
        // Authors of agents may read what they give agents to answer from: an agent cannot show them more than this.
        [ReadKnowledge] = [Scopes.Admin, Scopes.KnowledgeWrite, Scopes.AgentsWrite, Scopes.Read],
    };
}
