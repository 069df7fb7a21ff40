using System.Collections.Concurrent;
using System.ComponentModel.DataAnnotations;
using System.Threading.RateLimiting;

namespace Agentry.Security;

public sealed class RateLimitOptions
{
    public const string Section = "RateLimit";

    public bool Enabled { get; set; } = true;

    /// <summary>Requests per minute per key (per client IP without a key); a key's own limit wins. Alias: API_RATE_LIMIT.</summary>
    [Range(1, 10_000_000)]
    public int PermitsPerMinute { get; set; } = 100;

    /// <summary>Requests in flight at once per key (per client IP without a key).</summary>
    [Range(1, 100_000)]
    public int ConcurrentRequests { get; set; } = 20;

    /// <summary>Model tokens (input + output) per key per minute; empty means unlimited unless the key sets one.</summary>
    [Range(1, int.MaxValue)]
    public int? TokensPerMinute { get; set; }

    /// <summary>Model tokens per key per UTC day; empty means unlimited unless the key sets one.</summary>
    [Range(1, int.MaxValue)]
    public int? TokensPerDay { get; set; }
}

public sealed record RateLimitDecision(bool Allowed, int Limit, int Remaining, TimeSpan Reset, IDisposable? Lease = null);

public sealed record TokenBudgetDecision(bool Allowed, string? ExceededWindow, long Limit, long Used, TimeSpan Reset);

/// <summary>
/// Where limiter state lives. The in-process store serves one instance; a Redis-backed store replaces it for
/// several instances behind a load balancer, without changing the middleware or the turn code.
/// </summary>
public interface IRateLimitStore
{
    ValueTask<RateLimitDecision> AcquireRequestAsync(string partition, int permitsPerMinute, CancellationToken cancellationToken);
    /// <summary>A lease to dispose when the request ends, or a decision with Allowed = false.</summary>
    ValueTask<RateLimitDecision> AcquireConcurrencyAsync(string partition, int limit, CancellationToken cancellationToken);
    ValueTask<TokenBudgetDecision> CheckTokensAsync(string partition, int? perMinute, int? perDay, CancellationToken cancellationToken);
    ValueTask AddTokensAsync(string partition, long tokens, CancellationToken cancellationToken);
}

/// <summary>In-process limits built on System.Threading.RateLimiting (fixed windows and concurrency limiters per partition).</summary>
public sealed class InMemoryRateLimitStore : IRateLimitStore, IDisposable
{
    static readonly TimeSpan Window = TimeSpan.FromMinutes(1);
    readonly TimeProvider _time;
    readonly PartitionedRateLimiter<(string Partition, int Limit)> _requests;
    readonly PartitionedRateLimiter<(string Partition, int Limit)> _concurrency;
    readonly ConcurrentDictionary<(string Partition, long Minute), long> _tokensPerMinute = new();
    readonly ConcurrentDictionary<(string Partition, long Day), long> _tokensPerDay = new();
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

    public ValueTask<TokenBudgetDecision> CheckTokensAsync(string partition, int? perMinute, int? perDay, CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        var minute = now.ToUnixTimeSeconds() / 60;
        var day = now.ToUnixTimeSeconds() / 86_400;
        if (perMinute is { } minuteLimit && _tokensPerMinute.GetValueOrDefault((partition, minute)) >= minuteLimit)
            return ValueTask.FromResult(new TokenBudgetDecision(false, "minute", minuteLimit, _tokensPerMinute[(partition, minute)],
                TimeSpan.FromSeconds(60 - now.ToUnixTimeSeconds() % 60)));
        if (perDay is { } dayLimit && _tokensPerDay.GetValueOrDefault((partition, day)) >= dayLimit)
            return ValueTask.FromResult(new TokenBudgetDecision(false, "day", dayLimit, _tokensPerDay[(partition, day)],
                TimeSpan.FromSeconds(86_400 - now.ToUnixTimeSeconds() % 86_400)));
        return ValueTask.FromResult(new TokenBudgetDecision(true, null, 0, 0, TimeSpan.Zero));
    }

    public ValueTask AddTokensAsync(string partition, long tokens, CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        var minute = now.ToUnixTimeSeconds() / 60;
        var day = now.ToUnixTimeSeconds() / 86_400;
        _tokensPerMinute.AddOrUpdate((partition, minute), tokens, (_, used) => used + tokens);
        _tokensPerDay.AddOrUpdate((partition, day), tokens, (_, used) => used + tokens);
        // Finished windows are never read again.
        foreach (var key in _tokensPerMinute.Keys) if (key.Minute < minute) _tokensPerMinute.TryRemove(key, out _);
        foreach (var key in _tokensPerDay.Keys) if (key.Day < day) _tokensPerDay.TryRemove(key, out _);
        return ValueTask.CompletedTask;
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
