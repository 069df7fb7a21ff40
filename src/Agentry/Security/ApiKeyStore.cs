using System.Collections.Concurrent;
using Agentry.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Agentry.Security;

/// <summary>
/// Looks keys up by the hash of their secret, with a short cache so a request does not cost a database read, and
/// records last use in memory, written back in batches (one write per key per flush, never one per request). A
/// revocation or rotation through this instance's API drops the cache before it answers, and a lookup that raced with it
/// (read the key before the change, finished after) is not cached; with Redis the change is published and every
/// instance (and the command line) drops its cache too. Only a change made where this instance cannot hear it (the
/// command line without Redis) waits for <see cref="SecurityOptions.KeyCacheDuration"/>.
/// </summary>
public sealed partial class ApiKeyStore(IOptions<SecurityOptions> options, SharedState shared, TimeProvider time, ILogger<ApiKeyStore> logger) : IHostedService
{
    readonly ConcurrentDictionary<string, (ApiKey Key, DateTimeOffset Until)> _byHash = new(StringComparer.Ordinal);
    readonly ConcurrentDictionary<string, DateTimeOffset> _lastUsed = new(StringComparer.Ordinal);
    long _generation;

    public async ValueTask<ApiKey?> FindAsync(string secret, AgentryDbContext db, CancellationToken cancellationToken)
    {
        var hash = ApiKeySecrets.Hash(secret);
        var now = time.GetUtcNow();
        if (_byHash.TryGetValue(hash, out var cached) && cached.Until > now) return cached.Key;

        var generation = Interlocked.Read(ref _generation);
        var key = await db.ApiKeys.AsNoTracking().FirstOrDefaultAsync(k => k.Hash == hash, cancellationToken);
        if (key is null) _byHash.TryRemove(hash, out _);
        else _byHash[hash] = (key, now + options.Value.KeyCacheDuration);
        // A change landed while we read: what we read may be from before it, so it must not outlive this request.
        if (Interlocked.Read(ref _generation) != generation) _byHash.TryRemove(hash, out _);
        return key;
    }

    /// <summary>Forget cached keys, here and (with Redis) on every instance, so a revocation or rotation applies to the very next request.</summary>
    public async Task InvalidateAsync()
    {
        Forget();
        if (shared.Connection is not { } redis) return;
        try
        {
            await redis.GetSubscriber().PublishAsync(Channel, "invalidate");
        }
        catch (Exception e) when (e is StackExchange.Redis.RedisException or TimeoutException)
        {
            shared.FellBack(e, "key revocation (other instances drop the key when their cache lapses)");
        }
    }

    StackExchange.Redis.RedisChannel Channel => StackExchange.Redis.RedisChannel.Literal(shared.Prefix + "keys");

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (shared.Connection is not { } redis) return;
        try
        {
            await redis.GetSubscriber().SubscribeAsync(Channel, (_, _) => Forget());
        }
        catch (Exception e) when (e is StackExchange.Redis.RedisException or TimeoutException)
        {
            LogNotSubscribed(e); // the multiplexer restores subscriptions when it reconnects only for those it made; retried on restart
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    void Forget()
    {
        Interlocked.Increment(ref _generation);
        _byHash.Clear();
    }

    [LoggerMessage(EventId = 6001, Level = LogLevel.Warning, Message = "Could not subscribe to key revocations through Redis; revoked keys are dropped when the key cache lapses")]
    partial void LogNotSubscribed(Exception exception);

    public void MarkUsed(string keyId) => _lastUsed[keyId] = time.GetUtcNow();

    /// <summary>When this instance last saw the key, if that is not written to the database yet (it is every 30 seconds).</summary>
    public DateTimeOffset? UnwrittenLastUse(string keyId) => _lastUsed.TryGetValue(keyId, out var at) ? at : null;

    public async Task FlushLastUsedAsync(AgentryDbContext db, CancellationToken cancellationToken)
    {
        foreach (var keyId in _lastUsed.Keys.ToList())
        {
            if (!_lastUsed.TryRemove(keyId, out var at)) continue;
            await db.ApiKeys.Where(k => k.Id == keyId && (k.LastUsedAt == null || k.LastUsedAt < at))
                .ExecuteUpdateAsync(s => s.SetProperty(k => k.LastUsedAt, at), cancellationToken);
        }
    }
}

/// <summary>Writes last-used times every 30 seconds and once more on shutdown.</summary>
public sealed class ApiKeyUsageFlusher(ApiKeyStore store, IServiceScopeFactory scopes, ILogger<ApiKeyUsageFlusher> logger)
    : PeriodicFlush(scopes, logger, TimeSpan.FromSeconds(30))
{
    protected override string What => "API key last-used times";

    protected override Task FlushAsync(AgentryDbContext db, CancellationToken cancellationToken) => store.FlushLastUsedAsync(db, cancellationToken);
}
