namespace Agentry.Conversations;

/// <summary>
/// The rolling summary of a long conversation: what its messages up to <see cref="ThroughSequence"/> said, sent to the
/// model instead of them once they no longer fit Conversations:HistoryTokenLimit. One per conversation, extended as the
/// conversation grows; the messages themselves are kept.
/// </summary>
public sealed class ConversationSummary
{
    public required string ConversationId { get; set; }
    public required string Text { get; set; }
    /// <summary>The last message it covers; history after it is sent as messages.</summary>
    public long ThroughSequence { get; set; }
    /// <summary>How many messages it covers.</summary>
    public int Messages { get; set; }
    /// <summary>What wrote it: <c>extractive</c> (the offline way), or the model that summarised.</summary>
    public required string Method { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }
}
