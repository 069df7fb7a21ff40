using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Options;

namespace Agentry.Streaming;

/// <summary>
/// Streams kept in this process (one instance, or Redis unreachable). Readers wait on a signal the writer replaces at
/// every append, so a live reader sees an event as soon as it is written. Streams whose last event is older than the
/// resume window are dropped as new ones are written.
/// </summary>
public sealed class InProcessEventLog(IOptions<StreamingOptions> options, TimeProvider time) : IEventLog
{
    sealed class Buffer
    {
        public readonly List<LoggedEvent> Events = [];
        public long Dropped;
        public TaskCompletionSource Changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public DateTimeOffset Touched;
        public bool Finished;
    }

    readonly ConcurrentDictionary<string, Buffer> _streams = new();
    long _nextSweep;

    public ValueTask AppendAsync(string stream, LoggedEvent item)
    {
        var buffer = _streams.GetOrAdd(stream, _ => new Buffer());
        TaskCompletionSource changed;
        lock (buffer)
        {
            buffer.Events.Add(item);
            if (buffer.Events.Count > options.Value.MaxEventsPerStream)
            {
                buffer.Events.RemoveAt(0);
                buffer.Dropped++;
            }
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
                next = buffer.Events.Where(e => e.Sequence > after).ToArray();
                changed = buffer.Changed.Task;
            }
            foreach (var item in next)
            {
                yield return item;
                after = item.Sequence;
                if (item.Last) yield break;
            }
            await changed.WaitAsync(cancellationToken);
        }
    }

    public ValueTask<bool> ExistsAsync(string stream) => ValueTask.FromResult(_streams.TryGetValue(stream, out var buffer) && buffer.Events.Count > 0);

    /// <summary>At most once a second: finished streams past the resume window go, and so do abandoned ones after twice that.</summary>
    void Sweep()
    {
        var now = time.GetUtcNow();
        var due = Interlocked.Read(ref _nextSweep);
        if (now.UtcTicks < due || Interlocked.CompareExchange(ref _nextSweep, now.AddSeconds(1).UtcTicks, due) != due) return;
        var window = options.Value.ResumeWindow;
        foreach (var (id, buffer) in _streams)
            lock (buffer)
                if (now - buffer.Touched > (buffer.Finished ? window : window * 2)) _streams.TryRemove(id, out _);
    }
}
