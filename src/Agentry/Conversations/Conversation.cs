namespace Agentry.Conversations;

public sealed class Conversation
{
    public required string Id { get; set; }
    /// <summary>The agent that answers the next turn (changes on handoff or when a turn names another agent).</summary>
    public required string AgentId { get; set; }
    public string? UserId { get; set; }
    public string? Title { get; set; }
    /// <summary>Client-supplied JSON object, stored as text.</summary>
    public string? Metadata { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }
    /// <summary>
    /// Sequence number of the newest message, also the optimistic-concurrency token: two writers that read the same
    /// value cannot both commit, so turns cannot interleave even across instances.
    /// </summary>
    public long LastSequence { get; set; }
    /// <summary>The API key that created the conversation; with conversation isolation only it (or an admin) can see it.</summary>
    public string? OwnerKeyId { get; set; }
    /// <summary>Personality fields this conversation overrides (JSON), within what its agent allows.</summary>
    public string? PersonalityOverride { get; set; }
    /// <summary>
    /// The eval run this conversation belongs to (null for a real one): its tools run dry, and it stays out of the
    /// conversation list, analytics and usage figures.
    /// </summary>
    public string? EvalRunId { get; set; }
}
