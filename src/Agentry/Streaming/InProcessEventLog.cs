using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Options;

namespace Agentry.Streaming;

/// <summary>
/// Streams kept in this process (one instance, or Redis unreachable). Readers wait on a signal the writer replaces at
/// every append, so a live reader sees an event as soon as it is written, and find their place by binary search (events
/// are in order). A stream over its limit drops its oldest tenth at once. Streams whose last event is older than the
/// resume window are dropped as new ones are written; a reader of a dropped stream ends.
/// </summary>
public sealed class InProcessEventLog(IOptions<StreamingOptions> options, TimeProvider time) : IEventLog
{
    sealed class Buffer
    {
        public readonly List<LoggedEvent> Events = [];
        public TaskCompletionSource Changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public DateTimeOffset Touched;
        public bool Finished;
        public bool Dropped;
    }

    readonly ConcurrentDictionary<string, Buffer> _streams = new();
    long _nextSweep;

    public ValueTask AppendAsync(string stream, LoggedEvent item)
    {
        var buffer = _streams.GetOrAdd(stream, _ => new Buffer { Touched = time.GetUtcNow() });
        TaskCompletionSource changed;
        lock (buffer)
        {
            buffer.Events.Add(item);
            var limit = options.Value.MaxEventsPerStream;
            if (buffer.Events.Count > limit) buffer.Events.RemoveRange(0, Math.Max(1, limit / 10));
            buffer.Touched = time.GetUtcNow();
            buffer.Finished |= item.Last;
            changed = buffer.Changed;
            buffer.Changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        changed.TrySetResult();
        Sweep();
        return ValueTask.CompletedTask;
    }

    public async IAsyncEnumerable<LoggedEvent> ReadAsync(string stream, long after, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        // A reader may arrive before the writer's first event (the pump runs beside the response): it waits for it.
        var buffer = _streams.GetOrAdd(stream, _ => new Buffer { Touched = time.GetUtcNow() });
        while (true)
        {
            LoggedEvent[] next;
            Task changed;
            lock (buffer)
            {
                if (buffer.Dropped) yield break;
                var start = FirstAfter(buffer.Events, after);
                next = buffer.Events.GetRange(start, buffer.Events.Count - start).ToArray();
                changed = buffer.Changed.Task;
            }
            foreach (var item in next)
            {
                yield return item;
                after = item.Sequence;
                if (item.Last) yield break;
            }
            if (next.Length == 0)
            {
                // Woken by the next event, or now and then to see whether the stream was dropped meanwhile.
                try
                {
                    await changed.WaitAsync(options.Value.ResumeWindow, time, cancellationToken);
                }
                catch (TimeoutException)
                {
                    Sweep();
                }
            }
        }
    }

    static int FirstAfter(List<LoggedEvent> events, long after)
    {
        int low = 0, high = events.Count;
        while (low < high)
        {
            var middle = (low + high) / 2;
            if (events[middle].Sequence <= after) low = middle + 1;
            else high = middle;
        }
        return low;
    }

    public ValueTask<bool> ExistsAsync(string stream) => ValueTask.FromResult(_streams.TryGetValue(stream, out var buffer) && buffer.Events.Count > 0);

    public ValueTask<long> LastSequenceAsync(string stream)
    {
        if (!_streams.TryGetValue(stream, out var buffer)) return ValueTask.FromResult(0L);
        lock (buffer) return ValueTask.FromResult(buffer.Events.Count > 0 ? buffer.Events[^1].Sequence : 0L);
    }

    /// <summary>At most once a second: finished streams past the resume window go, and so do abandoned ones after twice that.</summary>
    void Sweep()
    {
        var now = time.GetUtcNow();
        var due = Interlocked.Read(ref _nextSweep);
        if (now.UtcTicks < due || Interlocked.CompareExchange(ref _nextSweep, now.AddSeconds(1).UtcTicks, due) != due) return;
        var window = options.Value.ResumeWindow;
        foreach (var (id, buffer) in _streams)
        {
            lock (buffer)
            {
                if (now - buffer.Touched <= (buffer.Finished ? window : window * 2)) continue;
                buffer.Dropped = true;
            }
            _streams.TryRemove(id, out _);
            buffer.Changed.TrySetResult(); // its readers end
        }
    }
}
