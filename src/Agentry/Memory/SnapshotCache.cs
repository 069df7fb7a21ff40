using System.Collections.Concurrent;
using Agentry.Data;
using Microsoft.Extensions.Options;

namespace Agentry.Memory;

/// <summary>
/// Collections loaded whole for searching in process (a knowledge base's passages and vectors, a user's memories),
/// kept within Memory:CacheMegabytes, least recently used out first. A change drops the key here and, with Redis, on
/// every instance; a load that raced with a change is used once and not kept, so nothing older than the change is served
/// after it. Concurrent first uses of one key share one load.
/// </summary>
public sealed partial class SnapshotCache(
    IOptions<MemoryOptions> options, SharedState shared, IServiceScopeFactory scopes, TimeProvider time, ILogger<SnapshotCache> logger) : IHostedService
{
    sealed record Entry(object Value, long Bytes, DateTimeOffset LoadedAt)
    {
        public long LastUsed;
    }

    readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    readonly ConcurrentDictionary<string, Lazy<Task<(object Value, long Bytes)>>> _loading = new(StringComparer.Ordinal);
    readonly ConcurrentDictionary<string, long> _generations = new(StringComparer.Ordinal);
    readonly ConcurrentDictionary<string, int> _changing = new(StringComparer.Ordinal);
    readonly ConcurrentDictionary<string, byte> _tooLarge = new(StringComparer.Ordinal);
    long _bytes;
    long _clock;

    public long Bytes => Interlocked.Read(ref _bytes);
    public int Count => _entries.Count;

    /// <summary>
    /// The cached value of <paramref name="key"/>, loaded by <paramref name="load"/> (returning the value and its size in
    /// bytes) when missing. Once Memory:CacheDuration has lapsed the value is still served while one load replaces it in
    /// the background (up to twice the duration; older than that, the reader waits for the load): a knowledge base of
    /// 100,000 passages takes seconds to load, and no turn should wait for its periodic reload. A change never waits for
    /// a lapse: it drops the key, and the next reader loads. The load gets a database context of its own: it is shared by
    /// every caller waiting for it, so it must not use one whose request may end first.
    /// </summary>
    public async Task<T> GetAsync<T>(string key, Func<AgentryDbContext, CancellationToken, Task<(T Value, long Bytes)>> load, CancellationToken cancellationToken)
        where T : class
    {
        var now = time.GetUtcNow();
        if (_entries.TryGetValue(key, out var entry) && !IsChanging(key) && now - entry.LoadedAt < 2 * options.Value.CacheDuration)
        {
            entry.LastUsed = Interlocked.Increment(ref _clock);
            if (now - entry.LoadedAt >= options.Value.CacheDuration && !_loading.ContainsKey(key)) _ = RefreshAsync(key, load, now);
            return (T)entry.Value;
        }
        return (T)(await LoadAsync(key, load, now).WaitAsync(cancellationToken)).Value;
    }

    async Task RefreshAsync<T>(string key, Func<AgentryDbContext, CancellationToken, Task<(T Value, long Bytes)>> load, DateTimeOffset now) where T : class
    {
        try
        {
            await Task.Yield(); // the reader that noticed the lapse goes on with what it has
            await LoadAsync(key, load, now);
        }
        catch (Exception e)
        {
            LogRefreshFailed(e, key); // readers keep the loaded value until it is twice the duration old, then load themselves
        }
    }

    /// <summary>Loads <paramref name="key"/> (joining a load already under way) and keeps it unless a change raced with it.</summary>
    async Task<(object Value, long Bytes)> LoadAsync<T>(string key, Func<AgentryDbContext, CancellationToken, Task<(T Value, long Bytes)>> load, DateTimeOffset now)
        where T : class
    {
        var generation = _generations.GetValueOrDefault(key);
        Lazy<Task<(object Value, long Bytes)>>? mine = null;
        mine = new Lazy<Task<(object Value, long Bytes)>>(async () =>
        {
            try
            {
                // The load belongs to no single caller: one caller giving up must not fail the others waiting for it.
                await using var scope = scopes.CreateAsyncScope();
                var (value, bytes) = await load(scope.ServiceProvider.GetRequiredService<AgentryDbContext>(), CancellationToken.None);
                // Kept while the load still counts as under way: a reader in between would find the lapsed entry and no
                // load, and start a second one (seen as a reload right after a reload).
                KeepUnlessChanged(key, value, bytes, generation, now);
                return (value, bytes);
            }
            finally
            {
                _loading.TryRemove(new KeyValuePair<string, Lazy<Task<(object Value, long Bytes)>>>(key, mine!));
            }
        });
        return await _loading.GetOrAdd(key, mine).Value;
    }

    void KeepUnlessChanged(string key, object value, long bytes, long generation, DateTimeOffset now)
    {
        if (_generations.GetValueOrDefault(key) == generation && !IsChanging(key) && bytes <= MaxBytes)
        {
            var kept = new Entry(value, bytes, now);
            Keep(key, kept);
            // A change that began and ended between the check above and Keep dropped nothing of this: drop it now.
            if ((_generations.GetValueOrDefault(key) != generation || IsChanging(key)) && _entries.TryRemove(new KeyValuePair<string, Entry>(key, kept)))
                Interlocked.Add(ref _bytes, -kept.Bytes);
        }
        else if (bytes > MaxBytes && _tooLarge.TryAdd(key, 0))
            LogTooLarge(key, bytes / (1024 * 1024) + 1, options.Value.CacheMegabytes);
    }

    bool IsChanging(string key) => _changing.GetValueOrDefault(key) > 0;

    /// <summary>
    /// Runs <paramref name="change"/> (a transaction that changes what <paramref name="key"/> loads) with the key neither
    /// served from nor kept in the cache, then drops it everywhere. Dropping only after the commit leaves a moment in
    /// which a reader who already sees the committed change (a document's status) would still be served the entry from
    /// before it; while the change runs every reader loads from the database instead.
    /// </summary>
    public async Task<T> ChangingAsync<T>(string key, Func<Task<T>> change)
    {
        _changing.AddOrUpdate(key, 1, (_, n) => n + 1);
        Forget(key);
        try
        {
            return await change();
        }
        finally
        {
            _changing.AddOrUpdate(key, 0, (_, n) => n - 1);
            _changing.TryRemove(new KeyValuePair<string, int>(key, 0));
            await InvalidateAsync(key); // here and on every instance
        }
    }

    long MaxBytes => options.Value.CacheMegabytes * 1024L * 1024L;

    void Keep(string key, Entry entry)
    {
        entry.LastUsed = Interlocked.Increment(ref _clock);
        if (_entries.TryGetValue(key, out var old) && _entries.TryRemove(new KeyValuePair<string, Entry>(key, old))) Interlocked.Add(ref _bytes, -old.Bytes);
        if (!_entries.TryAdd(key, entry)) return;
        Interlocked.Add(ref _bytes, entry.Bytes);
        if (Bytes <= MaxBytes) return;
        foreach (var (victim, value) in _entries.OrderBy(e => e.Value.LastUsed).ToList())
        {
            if (Bytes <= MaxBytes) break;
            if (victim != key && _entries.TryRemove(new KeyValuePair<string, Entry>(victim, value))) Interlocked.Add(ref _bytes, -value.Bytes);
        }
    }

    /// <summary>Drops <paramref name="key"/> here and, with Redis, on every instance: the next use loads what the change left.</summary>
    public async Task InvalidateAsync(string key)
    {
        Forget(key);
        if (shared.Connection is not { } redis) return;
        try
        {
            await redis.GetSubscriber().PublishAsync(Channel, key);
        }
        catch (Exception e) when (e is StackExchange.Redis.RedisException or TimeoutException)
        {
            shared.FellBack(e, "retrieval caches (other instances see changes when Memory:CacheDuration lapses)");
        }
    }

    void Forget(string key)
    {
        _generations.AddOrUpdate(key, 1, (_, g) => g + 1);
        _loading.TryRemove(key, out _); // a load begun before the change must not be joined by readers after it
        if (_entries.TryRemove(key, out var old)) Interlocked.Add(ref _bytes, -old.Bytes);
    }

    StackExchange.Redis.RedisChannel Channel => StackExchange.Redis.RedisChannel.Literal(shared.Prefix + "snapshots");

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (shared.Connection is not { } redis) return;
        try
        {
            await redis.GetSubscriber().SubscribeAsync(Channel, (_, key) => Forget((string)key!));
        }
        catch (Exception e) when (e is StackExchange.Redis.RedisException or TimeoutException)
        {
            LogNotSubscribed(e);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(EventId = 9005, Level = LogLevel.Warning,
        Message = "{Key} needs about {Megabytes} MB in memory, more than Memory:CacheMegabytes ({Limit}): it is loaded again for every use, which takes seconds for a large knowledge base; raise the setting")]
    partial void LogTooLarge(string key, long megabytes, int limit);

    [LoggerMessage(EventId = 9004, Level = LogLevel.Warning,
        Message = "Reloading {Key} for the retrieval cache failed; what was loaded before is served until it is twice Memory:CacheDuration old")]
    partial void LogRefreshFailed(Exception exception, string key);

    [LoggerMessage(EventId = 9003, Level = LogLevel.Warning,
        Message = "Could not subscribe to retrieval cache changes through Redis; changes made on other instances are seen when Memory:CacheDuration lapses")]
    partial void LogNotSubscribed(Exception exception);
}
