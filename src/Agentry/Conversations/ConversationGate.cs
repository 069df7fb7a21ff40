using System.Collections.Concurrent;

namespace Agentry.Conversations;

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
