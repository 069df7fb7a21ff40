using Agentry.Data;
using StackExchange.Redis;

namespace Agentry.Security;

/// <summary>
/// Limits shared by every instance, in Redis: a request counter per key and minute, a set of leases for requests in
/// flight, and token counters per minute and UTC day. Each check-and-count is one Lua script, so it is atomic across
/// instances and a limit is exact however the load is spread. When Redis cannot be reached, request and concurrency
/// limits are answered by this instance's in-process store (they then hold per instance) and the fallback is logged;
/// token budgets do as <see cref="RedisOptions.OnFailure"/> says: refuse the call (the default in Production), or count
/// locally. A reservation is settled in the store that made it.
/// </summary>
public sealed class RedisRateLimitStore(SharedState shared, InMemoryRateLimitStore local, TimeProvider time) : IRateLimitStore
{
    /// <summary>A request that never released its lease (its instance died) stops counting after this.</summary>
    static readonly TimeSpan LeaseExpiry = TimeSpan.FromMinutes(15);

    const string CountRequest = """
        local count = redis.call('INCR', KEYS[1])
        if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
        return count
        """;

    const string AcquireLease = """
        redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
        if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
        redis.call('ZADD', KEYS[1], ARGV[3], ARGV[4])
        redis.call('PEXPIRE', KEYS[1], ARGV[5])
        return 1
        """;

    // KEYS: minute, day. ARGV: tokens, minute limit (-1: none), day limit (-1: none), minute ttl ms, day ttl ms.
    // Returns {1} when reserved, or {0, window, used} when a window is full.
    const string Reserve = """
        local tokens = tonumber(ARGV[1])
        local minute = tonumber(redis.call('GET', KEYS[1]) or '0')
        local day = tonumber(redis.call('GET', KEYS[2]) or '0')
        if tonumber(ARGV[2]) >= 0 and minute + tokens > tonumber(ARGV[2]) then return {0, 'minute', minute} end
        if tonumber(ARGV[3]) >= 0 and day + tokens > tonumber(ARGV[3]) then return {0, 'day', day} end
        redis.call('INCRBY', KEYS[1], tokens)
        redis.call('PEXPIRE', KEYS[1], ARGV[4])
        redis.call('INCRBY', KEYS[2], tokens)
        redis.call('PEXPIRE', KEYS[2], ARGV[5])
        return {1}
        """;

    // Adds ARGV[1] (negative: gives back) to each existing key, never below zero; with ARGV[2] = 1 creates missing keys
    // (ttl ARGV[3], ARGV[4]).
    const string Adjust = """
        for i, key in ipairs(KEYS) do
          local exists = redis.call('EXISTS', key) == 1
          if exists or ARGV[2] == '1' then
            local value = tonumber(redis.call('GET', key) or '0') + tonumber(ARGV[1])
            if value < 0 then value = 0 end
            redis.call('SET', key, value, 'PX', ARGV[2 + i])
          end
        end
        return 1
        """;

    public async ValueTask<RateLimitDecision> AcquireRequestAsync(string partition, int permitsPerMinute, CancellationToken cancellationToken)
    {
        if (shared.Database is not { } redis) return await local.AcquireRequestAsync(partition, permitsPerMinute, cancellationToken);
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var minute = now / 60_000;
        try
        {
            var count = (long)await redis.ScriptEvaluateAsync(CountRequest, [Key($"req:{partition}:{permitsPerMinute}:{minute}")], [61_000]);
            var reset = TimeSpan.FromMilliseconds(60_000 - now % 60_000);
            return new RateLimitDecision(count <= permitsPerMinute, permitsPerMinute, (int)Math.Max(0, permitsPerMinute - count), reset);
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            shared.FellBack(e, "request limiting");
            return await local.AcquireRequestAsync(partition, permitsPerMinute, cancellationToken);
        }
    }

    public async ValueTask<RateLimitDecision> AcquireConcurrencyAsync(string partition, int limit, CancellationToken cancellationToken)
    {
        if (shared.Database is not { } redis) return await local.AcquireConcurrencyAsync(partition, limit, cancellationToken);
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var key = Key($"inflight:{partition}");
        var lease = Guid.NewGuid().ToString("N");
        try
        {
            var acquired = (long)await redis.ScriptEvaluateAsync(AcquireLease, [key],
                [now, limit, now + (long)LeaseExpiry.TotalMilliseconds, lease, (long)LeaseExpiry.TotalMilliseconds]);
            return acquired == 1
                ? new RateLimitDecision(true, limit, 0, TimeSpan.Zero, new Lease(redis, key, lease))
                : new RateLimitDecision(false, limit, 0, TimeSpan.FromSeconds(1));
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            shared.FellBack(e, "the in-flight request limit");
            return await local.AcquireConcurrencyAsync(partition, limit, cancellationToken);
        }
    }

    public async ValueTask<TokenBudgetDecision> TryReserveTokensAsync(string partition, long tokens, int? perMinute, int? perDay, CancellationToken cancellationToken)
    {
        if (shared.Database is not { } redis) return await local.TryReserveTokensAsync(partition, tokens, perMinute, perDay, cancellationToken);
        var now = time.GetUtcNow().ToUnixTimeSeconds();
        long minute = now / 60, day = now / 86_400;
        try
        {
            var result = (RedisResult[])(await redis.ScriptEvaluateAsync(Reserve, [MinuteKey(partition, minute), DayKey(partition, day)],
                [tokens, perMinute ?? -1, perDay ?? -1, 120_000, 2 * 86_400_000L]))!;
            if ((long)result[0] == 1) return new TokenBudgetDecision(true, null, 0, 0, TimeSpan.Zero, new TokenReservation(partition, minute, day, tokens, Shared: true));
            var window = (string)result[1]!;
            return window == "minute"
                ? new TokenBudgetDecision(false, "minute", perMinute!.Value, (long)result[2], TimeSpan.FromSeconds(60 - now % 60))
                : new TokenBudgetDecision(false, "day", perDay!.Value, (long)result[2], TimeSpan.FromSeconds(86_400 - now % 86_400));
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            if (shared.RefusesWhenDown)
            {
                shared.Refused(e, "model calls with a token budget");
                throw new Api.ApiProblemException(503, Api.ProblemTypes.LimitsUnavailable, "Limits unavailable",
                    "Token budgets are shared through Redis, which cannot be reached; the model call is refused rather than made without a budget. Retry in a moment.")
                { RetryAfter = TimeSpan.FromSeconds(5) };
            }
            shared.FellBack(e, "token budgets");
            return await local.TryReserveTokensAsync(partition, tokens, perMinute, perDay, cancellationToken);
        }
    }

    public async ValueTask SettleTokensAsync(TokenReservation reservation, long usedTokens, CancellationToken cancellationToken)
    {
        // Settled where it was made: a reservation this instance held while Redis was away is not Redis's to give back.
        if (!reservation.Shared || shared.Database is not { } redis)
        {
            await local.SettleTokensAsync(reservation, usedTokens, cancellationToken);
            return;
        }
        var difference = usedTokens - reservation.Tokens;
        var now = time.GetUtcNow().ToUnixTimeSeconds();
        // As in the in-process store: what was not used goes back to the windows it came from; an overrun is charged now.
        var (minute, day, create) = difference <= 0 ? (reservation.Minute, reservation.Day, "0") : (now / 60, now / 86_400, "1");
        try
        {
            await redis.ScriptEvaluateAsync(Adjust, [MinuteKey(reservation.Partition, minute), DayKey(reservation.Partition, day)],
                [difference, create, 120_000, 2 * 86_400_000L]);
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            shared.FellBack(e, "token budgets");
        }
    }

    RedisKey Key(string name) => shared.Prefix + "rl:" + name;
    RedisKey MinuteKey(string partition, long minute) => Key($"tokens:{partition}:m:{minute}");
    RedisKey DayKey(string partition, long day) => Key($"tokens:{partition}:d:{day}");

    sealed class Lease(IDatabase redis, RedisKey key, string lease) : IDisposable
    {
        int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 1) return;
            // Fire and forget: the response is already on its way; a lost release expires with the lease.
            _ = redis.SortedSetRemoveAsync(key, lease, CommandFlags.FireAndForget);
        }
    }
}
