using Agentry.Data;
using StackExchange.Redis;

namespace Agentry.Observability;

/// <summary>
/// With several instances, each watches its own figures and may raise the same alert; the operator should hear it
/// once. Each instance that has an alert raised is a member of a Redis sorted set per alert (scored by when it last
/// confirmed it); the first to raise it and the last to clear it notify (audit event and webhook). An instance that
/// died stops counting after <see cref="Stale"/>. Without Redis every change notifies, as one instance does.
/// </summary>
public sealed class SharedAlerts(SharedState shared, TimeProvider time)
{
    static readonly TimeSpan Stale = TimeSpan.FromMinutes(5);
    readonly string _instance = $"{Environment.MachineName}:{Environment.ProcessId}:{Guid.NewGuid():N}";

    const string Raise = """
        redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
        local before = redis.call('ZCARD', KEYS[1])
        if redis.call('ZSCORE', KEYS[1], ARGV[3]) then before = before - 1 end
        redis.call('ZADD', KEYS[1], ARGV[1], ARGV[3])
        redis.call('PEXPIRE', KEYS[1], ARGV[4])
        return before
        """;

    const string Clear = """
        redis.call('ZREM', KEYS[1], ARGV[2])
        redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
        return redis.call('ZCARD', KEYS[1])
        """;

    /// <summary>Records that this instance raised the alert; true when no other instance had it raised (notify).</summary>
    public async Task<bool> RaisedAsync(string alert) =>
        await RunAsync(alert, Raise, now => [now, now - (long)Stale.TotalMilliseconds, _instance, (long)Stale.TotalMilliseconds * 2]) is not { } before || before == 0;

    /// <summary>Keeps this instance counted while its alert stays raised.</summary>
    public Task StillRaisedAsync(string alert) => RaisedAsync(alert);

    /// <summary>Records that this instance cleared the alert; true when no instance has it raised any more (notify).</summary>
    public async Task<bool> ClearedAsync(string alert) =>
        await RunAsync(alert, Clear, now => [now - (long)Stale.TotalMilliseconds, _instance]) is not { } remaining || remaining == 0;

    async Task<long?> RunAsync(string alert, string script, Func<long, RedisValue[]> arguments)
    {
        if (shared.Database is not { } redis) return null;
        try
        {
            return (long)await redis.ScriptEvaluateAsync(script, [(RedisKey)(shared.Prefix + "alerts:" + alert)], arguments(time.GetUtcNow().ToUnixTimeMilliseconds()));
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            shared.FellBack(e, "alert de-duplication");
            return null; // tell it: a duplicate notification beats a missed one
        }
    }
}
