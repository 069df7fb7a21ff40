namespace Agentry.Streaming;

/// <summary>
/// One event of a resumable stream as kept for clients that reconnect: its number in the stream (the SSE <c>id</c>, or a
/// response's <c>sequence_number</c>), its type and its JSON. The last event of a stream says so.
/// </summary>
public sealed record LoggedEvent(long Sequence, string Type, string Data, bool Last = false);
