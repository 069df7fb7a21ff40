using System.Collections.Concurrent;
using Agentry.Data;
using StackExchange.Redis;

namespace Agentry.Conversations;

/// <summary>
/// Admits one turn at a time per conversation; a second concurrent turn is refused with 409 instead of queueing,
/// because a chat client that sends two turns at once has a bug, and a queued turn would answer against history its
/// sender has not seen. On one instance an in-process set does it. With Redis the gate is also a lease every instance
/// sees (<c>SET NX PX</c>, renewed while the turn runs), so a crashed instance frees its conversations when the lease
/// runs out (<see cref="RedisOptions.GateLease"/>) rather than never. Should Redis be unreachable, the conversation's
/// concurrency token still makes a second, concurrent commit fail.
/// </summary>
public sealed class ConversationGate(SharedState shared)
{
    const string Renew = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0";
    const string Release = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0";

    readonly ConcurrentDictionary<string, byte> _active = new(StringComparer.Ordinal);

    public async ValueTask<IDisposable?> TryEnterAsync(string conversationId)
    {
        if (!_active.TryAdd(conversationId, 0)) return null;
        var local = new Lease(this, conversationId, null);
        if (shared.Database is not { } redis) return local;
        var key = (RedisKey)(shared.Prefix + "gate:" + conversationId);
        var token = Guid.NewGuid().ToString("N");
        try
        {
            if (await redis.StringSetAsync(key, token, shared.Options.GateLease, When.NotExists))
                return new Lease(this, conversationId, new SharedLease(redis, key, token, shared.Options.GateLease));
            local.Dispose();
            return null; // another instance is running a turn in this conversation
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            shared.FellBack(e, "the conversation gate");
            return local;
        }
    }

    sealed class Lease(ConversationGate gate, string id, SharedLease? shared) : IDisposable
    {
        int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
            shared?.Dispose();
            gate._active.TryRemove(id, out _);
        }
    }

    /// <summary>The Redis side of a lease: renewed at a third of its lifetime while held, deleted (if still ours) when done.</summary>
    sealed class SharedLease : IDisposable
    {
        readonly IDatabase _redis;
        readonly RedisKey _key;
        readonly string _token;
        readonly long _lifetimeMs;
        readonly Timer _renewal;

        public SharedLease(IDatabase redis, RedisKey key, string token, TimeSpan lifetime)
        {
            (_redis, _key, _token, _lifetimeMs) = (redis, key, token, (long)lifetime.TotalMilliseconds);
            _renewal = new Timer(_ => _ = RenewAsync(), null, lifetime / 3, lifetime / 3);
        }

        async Task RenewAsync()
        {
            try { await _redis.ScriptEvaluateAsync(Renew, [_key], [_token, _lifetimeMs]); }
            catch (Exception e) when (e is RedisException or TimeoutException) { } // the next tick tries again; the database still guards the commit
        }

        /// <summary>
        /// Released before the turn's response is sent (a round trip well under a millisecond), so a client that sends
        /// its next message to another instance the moment it has the reply never finds the conversation still busy.
        /// </summary>
        public void Dispose()
        {
            _renewal.Dispose();
            try { _redis.ScriptEvaluate(Release, [_key], [_token]); }
            catch (Exception e) when (e is RedisException or TimeoutException) { } // the lease runs out on its own
        }
    }
}
