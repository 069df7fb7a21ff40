namespace Agentry.Agents;

/// <summary>An agent created through the API, persisted as its JSON definition (the definition's shape evolves without migrations).</summary>
public sealed class StoredAgent
{
    public required string Id { get; set; }
    public required string Definition { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }
}
