using System.Collections.Concurrent;
using System.ComponentModel.DataAnnotations;
using System.Threading.RateLimiting;

namespace Agentry.Security;

/// <summary>In-process limits built on System.Threading.RateLimiting (fixed windows and concurrency limiters per partition).</summary>
public sealed class InMemoryRateLimitStore : IRateLimitStore, IDisposable
{
    static readonly TimeSpan Window = TimeSpan.FromMinutes(1);
    readonly TimeProvider _time;
    readonly PartitionedRateLimiter<(string Partition, int Limit)> _requests;
    readonly PartitionedRateLimiter<(string Partition, int Limit)> _concurrency;
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
        _concurrency = PartitionedRateLimiter.Create<(string Partition, int Limit), string>(r =>
            RateLimitPartition.GetConcurrencyLimiter($"{r.Partition}|{r.Limit}", _ => new ConcurrencyLimiterOptions { PermitLimit = r.Limit, QueueLimit = 0 }));
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
        var lease = _concurrency.AttemptAcquire((partition, limit));
        if (lease.IsAcquired) return ValueTask.FromResult(new RateLimitDecision(true, limit, 0, TimeSpan.Zero, lease));
        lease.Dispose();
        return ValueTask.FromResult(new RateLimitDecision(false, limit, 0, TimeSpan.FromSeconds(1)));
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
        _concurrency.Dispose();
    }
}
