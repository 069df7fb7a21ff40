using System.Collections.Concurrent;
using System.ComponentModel.DataAnnotations;
using System.Threading.RateLimiting;

namespace Agentry.Security;

/// <summary>
/// In-process limits: requests per minute on System.Threading.RateLimiting's fixed windows; requests in flight as a
/// counter per partition, taken and returned with compare-and-swap. (Its ConcurrencyLimiter takes a lock for every
/// acquire and release; with every connection of one API key on one partition, threads spinning on that lock were
/// 7 % of the service's CPU time at saturation, measured with dotnet-trace.)
/// </summary>
public sealed class InMemoryRateLimitStore : IRateLimitStore, IDisposable
{
    static readonly TimeSpan Window = TimeSpan.FromMinutes(1);
    readonly TimeProvider _time;
    readonly PartitionedRateLimiter<(string Partition, int Limit)> _requests;
    readonly ConcurrentDictionary<(string Partition, int Limit), InFlight> _inFlight = new();
    long _inFlightSweptAt;
    const char Minute = 'm', Day = 'd';
    /// <summary>Tokens used per partition and window (minute or UTC day number); guarded by a lock so a reservation is one step.</summary>
    readonly Dictionary<(string Partition, char Window, long Number), long> _tokens = new();
    long _sweptAt;
    readonly ConcurrentDictionary<string, DateTimeOffset> _windowStarts = new(StringComparer.Ordinal);

    public InMemoryRateLimitStore(TimeProvider time)
    {
        _time = time;
        _requests = PartitionedRateLimiter.Create<(string Partition, int Limit), string>(r =>
        {
            var key = $"{r.Partition}|{r.Limit}";
            return RateLimitPartition.GetFixedWindowLimiter(key, k =>
            {
                _windowStarts[k] = time.GetUtcNow();
                return new FixedWindowRateLimiterOptions { PermitLimit = r.Limit, Window = Window, QueueLimit = 0, AutoReplenishment = true };
            });
        });
    }

    public ValueTask<RateLimitDecision> AcquireRequestAsync(string partition, int permitsPerMinute, CancellationToken cancellationToken)
    {
        var resource = (partition, permitsPerMinute);
        using var lease = _requests.AttemptAcquire(resource);
        var remaining = (int)(_requests.GetStatistics(resource)?.CurrentAvailablePermits ?? 0);
        var reset = lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter) ? retryAfter : UntilWindowEnds($"{partition}|{permitsPerMinute}");
        return ValueTask.FromResult(new RateLimitDecision(lease.IsAcquired, permitsPerMinute, remaining, reset));
    }

    public ValueTask<RateLimitDecision> AcquireConcurrencyAsync(string partition, int limit, CancellationToken cancellationToken)
    {
        SweepIdlePartitions();
        var key = (partition, limit);
        while (true)
        {
            var inFlight = _inFlight.GetOrAdd(key, _ => new InFlight());
            if (!inFlight.TryTake(limit)) return ValueTask.FromResult(new RateLimitDecision(false, limit, 0, TimeSpan.FromSeconds(1)));
            if (_inFlight.TryGetValue(key, out var current) && ReferenceEquals(current, inFlight))
                return ValueTask.FromResult(new RateLimitDecision(true, limit, 0, TimeSpan.Zero, new InFlight.Slot(inFlight)));
            inFlight.Return(); // swept away while we took it: count against the partition's new counter instead
        }
    }

    /// <summary>
    /// Counters of partitions with nothing in flight are dropped once a minute, so callers that come and go (anonymous
    /// callers are partitioned by address) do not accumulate. A request that takes a slot on a counter while it is being
    /// dropped finds it gone and takes one on the new counter (above); one that took its slot just before is put back.
    /// </summary>
    void SweepIdlePartitions()
    {
        var minute = _time.GetUtcNow().ToUnixTimeSeconds() / 60;
        if (Interlocked.Exchange(ref _inFlightSweptAt, minute) == minute) return;
        foreach (var (key, inFlight) in _inFlight)
            if (inFlight.Count == 0 && _inFlight.TryRemove(new KeyValuePair<(string, int), InFlight>(key, inFlight)) && inFlight.Count > 0)
                _inFlight.TryAdd(key, inFlight);
    }

    sealed class InFlight
    {
        int _count;

        public int Count => Volatile.Read(ref _count);

        public bool TryTake(int limit)
        {
            for (var current = Count; current < limit; current = Count)
                if (Interlocked.CompareExchange(ref _count, current + 1, current) == current) return true;
            return false;
        }

        public void Return() => Interlocked.Decrement(ref _count);

        /// <summary>Returned once, however often it is disposed.</summary>
        public sealed class Slot(InFlight inFlight) : IDisposable
        {
            int _returned;

            public void Dispose()
            {
                if (Interlocked.Exchange(ref _returned, 1) == 0) inFlight.Return();
            }
        }
    }

    public ValueTask<TokenBudgetDecision> TryReserveTokensAsync(string partition, long tokens, int? perMinute, int? perDay, CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow().ToUnixTimeSeconds();
        long minute = now / 60, day = now / 86_400;
        lock (_tokens)
        {
            SweepFinishedWindows(minute, day);
            var usedThisMinute = _tokens.GetValueOrDefault((partition, Minute, minute));
            var usedToday = _tokens.GetValueOrDefault((partition, Day, day));
            if (perMinute is { } minuteLimit && usedThisMinute + tokens > minuteLimit)
                return ValueTask.FromResult(new TokenBudgetDecision(false, "minute", minuteLimit, usedThisMinute, TimeSpan.FromSeconds(60 - now % 60)));
            if (perDay is { } dayLimit && usedToday + tokens > dayLimit)
                return ValueTask.FromResult(new TokenBudgetDecision(false, "day", dayLimit, usedToday, TimeSpan.FromSeconds(86_400 - now % 86_400)));
            _tokens[(partition, Minute, minute)] = usedThisMinute + tokens;
            _tokens[(partition, Day, day)] = usedToday + tokens;
            return ValueTask.FromResult(new TokenBudgetDecision(true, null, 0, 0, TimeSpan.Zero, new TokenReservation(partition, minute, day, tokens)));
        }
    }

    public ValueTask SettleTokensAsync(TokenReservation reservation, long usedTokens, CancellationToken cancellationToken)
    {
        var difference = usedTokens - reservation.Tokens;
        var now = _time.GetUtcNow().ToUnixTimeSeconds();
        lock (_tokens)
        {
            if (difference <= 0)
            {
                // The unused part goes back to the windows it was taken from; a window that has ended since stays ended.
                Adjust((reservation.Partition, Minute, reservation.Minute), difference);
                Adjust((reservation.Partition, Day, reservation.Day), difference);
            }
            else
            {
                // More than reserved (the provider counted the prompt differently): charged where the budget counts now.
                Adjust((reservation.Partition, Minute, now / 60), difference, create: true);
                Adjust((reservation.Partition, Day, now / 86_400), difference, create: true);
            }
        }
        return ValueTask.CompletedTask;
    }

    void Adjust((string, char, long) window, long difference, bool create = false)
    {
        if (_tokens.TryGetValue(window, out var used)) _tokens[window] = Math.Max(0, used + difference);
        else if (create) _tokens[window] = difference;
    }

    /// <summary>Finished windows are never read again; swept once per minute.</summary>
    void SweepFinishedWindows(long minute, long day)
    {
        if (minute == _sweptAt) return;
        _sweptAt = minute;
        foreach (var key in _tokens.Keys.ToList())
            if (key.Window == Minute ? key.Number < minute : key.Number < day) _tokens.Remove(key);
    }

    TimeSpan UntilWindowEnds(string key)
    {
        if (!_windowStarts.TryGetValue(key, out var start)) return Window;
        var elapsed = (_time.GetUtcNow() - start).Ticks % Window.Ticks;
        return TimeSpan.FromTicks(Window.Ticks - elapsed);
    }

    public void Dispose()
    {
        _requests.Dispose();
    }
}
