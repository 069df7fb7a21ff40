namespace Agentry.Streaming;

/// <summary>
/// Where a stream's events wait for the clients that read them: the one writer appends in order, readers replay what
/// they missed and then follow live until the last event. Bounded by <see cref="StreamingOptions.ResumeWindow"/>.
/// </summary>
public interface IEventLog
{
    ValueTask AppendAsync(string stream, LoggedEvent item);

    /// <summary>The events after <paramref name="after"/>, then the new ones as they come, until the stream's last event.</summary>
    IAsyncEnumerable<LoggedEvent> ReadAsync(string stream, long after, CancellationToken cancellationToken);

    /// <summary>Whether anything of the stream is still kept (a reconnect to an expired or unknown stream is a 404).</summary>
    ValueTask<bool> ExistsAsync(string stream);

    /// <summary>The number of the stream's last event, 0 when nothing is kept.</summary>
    ValueTask<long> LastSequenceAsync(string stream);
}
