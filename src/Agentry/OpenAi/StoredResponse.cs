namespace Agentry.OpenAi;

/// <summary>
/// A response of the Responses API as kept: who asked, the conversation it belongs to, the request, and the response
/// object as last written. A running one has a lease its instance renews; one whose lease ran out was on an instance
/// that stopped, and is reported failed rather than left running for ever.
/// </summary>
public sealed class StoredResponse
{
    public required string Id { get; set; }
    public string? OwnerKeyId { get; set; }
    public required string ConversationId { get; set; }
    /// <summary>The end user it was for (<c>user</c>): forgetting the user deletes it, even when its turn never committed.</summary>
    public string? UserId { get; set; }
    public required string Status { get; set; }
    public bool Background { get; set; }
    /// <summary>The request as sent (JSON): its input items are GET …/input_items.</summary>
    public required string Request { get; set; }
    /// <summary>The response object (JSON) as of the last change of status.</summary>
    public required string Body { get; set; }
    public DateTimeOffset? LeaseExpiresAt { get; set; }
    public bool CancelRequested { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }
}
