using System.Collections.Concurrent;
using Agentry.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Agentry.Security;

/// <summary>
/// Looks keys up by the hash of their secret, with a short cache so a request does not cost a database read, and
/// records last use in memory, written back in batches (one write per key per flush, never one per request).
/// </summary>
public sealed class ApiKeyStore(IOptions<SecurityOptions> options, TimeProvider time)
{
    readonly ConcurrentDictionary<string, (ApiKey Key, DateTimeOffset Until)> _byHash = new(StringComparer.Ordinal);
    readonly ConcurrentDictionary<string, DateTimeOffset> _lastUsed = new(StringComparer.Ordinal);

    public async ValueTask<ApiKey?> FindAsync(string secret, AgentryDbContext db, CancellationToken cancellationToken)
    {
        var hash = ApiKeySecrets.Hash(secret);
        var now = time.GetUtcNow();
        if (_byHash.TryGetValue(hash, out var cached) && cached.Until > now) return cached.Key;

        var key = await db.ApiKeys.AsNoTracking().FirstOrDefaultAsync(k => k.Hash == hash, cancellationToken);
        if (key is null) _byHash.TryRemove(hash, out _);
        else _byHash[hash] = (key, now + options.Value.KeyCacheDuration);
        return key;
    }

    /// <summary>Forget cached keys, so a revocation or rotation on this instance applies to the very next request.</summary>
    public void Invalidate() => _byHash.Clear();

    public void MarkUsed(string keyId) => _lastUsed[keyId] = time.GetUtcNow();

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
