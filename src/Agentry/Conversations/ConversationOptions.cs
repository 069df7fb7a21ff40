using System.Collections.Concurrent;
using System.ComponentModel.DataAnnotations;

namespace Agentry.Conversations;

public sealed class ConversationOptions
{
    public const string Section = "Conversations";

    /// <summary>Agent that answers POST /v1/chat when the request names none.</summary>
    [Required, RegularExpression("^[a-z0-9-]{1,64}$")]
    public string DefaultAgent { get; set; } = "concierge";

    /// <summary>How many of the newest messages are sent to the model as context.</summary>
    [Range(1, 1000)]
    public int HistoryLimit { get; set; } = 50;

    /// <summary>Tool results longer than this are truncated before they are stored.</summary>
    [Range(100, 1_000_000)]
    public int MaxStoredToolResultChars { get; set; } = 4_000;

    /// <summary>Handoffs allowed within one turn; stops two agents passing a user back and forth forever.</summary>
    [Range(0, 20)]
    public int MaxHandoffsPerTurn { get; set; } = 3;
}

/// <summary>
/// Admits one turn at a time per conversation on this instance; a second concurrent turn is refused with 409
/// instead of queueing, because a chat client that sends two turns at once has a bug, and a queued turn would
/// answer against history its sender has not seen. Across instances the conversation's concurrency token does the same.
/// </summary>
public sealed class ConversationGate
{
    readonly ConcurrentDictionary<string, byte> _active = new(StringComparer.Ordinal);

    public IDisposable? TryEnter(string conversationId) =>
        _active.TryAdd(conversationId, 0) ? new Lease(this, conversationId) : null;

    sealed class Lease(ConversationGate gate, string id) : IDisposable
    {
        int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0) gate._active.TryRemove(id, out _);
        }
    }
}
