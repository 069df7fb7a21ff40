using Agentry.Data;
using Agentry.Memory;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace Agentry.Tests.Memory;

/// <summary>
/// The in-process cache of knowledge bases and memories never serves what a committed change replaced: while a change
/// runs, readers load from the database, and after it nothing from before it is kept. A periodic reload (the duration
/// lapsing) happens behind readers, not in front of them.
/// </summary>
public sealed class SnapshotCacheTests
{
    static Func<AgentryDbContext, CancellationToken, Task<(string, long)>> Loads(string value) => (_, _) => Task.FromResult((value, 16L));

    [Fact]
    public async Task A_reader_during_a_change_loads_afresh_and_nothing_loaded_then_is_kept()
    {
        await using var app = new AgentryApp();
        var cache = app.Service<SnapshotCache>();
        Assert.Equal("before", await cache.GetAsync("kb:test", Loads("before"), CancellationToken.None));
        Assert.Equal("before", await cache.GetAsync("kb:test", Loads("not loaded: cached"), CancellationToken.None));

        var seenDuringChange = await cache.ChangingAsync("kb:test", async () =>
        {
            // The change has committed but the cache has not yet been told: a reader who saw the commit must get it.
            var during = await cache.GetAsync("kb:test", Loads("committed"), CancellationToken.None);
            Assert.Equal("loaded again", await cache.GetAsync("kb:test", Loads("loaded again"), CancellationToken.None)); // not kept while changing
            return during;
        });
        Assert.Equal("committed", seenDuringChange);
        Assert.Equal("after", await cache.GetAsync("kb:test", Loads("after"), CancellationToken.None));
        Assert.Equal("after", await cache.GetAsync("kb:test", Loads("not loaded: cached"), CancellationToken.None));
    }

    [Fact]
    public async Task A_lapsed_entry_is_reloaded_in_the_background_while_readers_keep_what_was_loaded()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var app = new AgentryApp(services: AgentryApp.On(clock));
        var cache = app.Service<SnapshotCache>();
        var duration = app.Service<IOptions<MemoryOptions>>().Value.CacheDuration;
        Assert.Equal("first", await cache.GetAsync("kb:lapse", Loads("first"), CancellationToken.None));

        // Lapsed: the reader gets the loaded value at once, while the reload (held here) runs behind it.
        clock.Advance(duration + TimeSpan.FromSeconds(1));
        var reload = new TaskCompletionSource();
        var reloads = 0;
        Func<AgentryDbContext, CancellationToken, Task<(string, long)>> slow = async (_, _) =>
        {
            Interlocked.Increment(ref reloads);
            await reload.Task;
            return ("second", 16L);
        };
        Assert.Equal("first", await cache.GetAsync("kb:lapse", slow, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal("first", await cache.GetAsync("kb:lapse", slow, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10)));
        await Wait.UntilAsync(() => Task.FromResult(Volatile.Read(ref reloads) == 1), TimeSpan.FromSeconds(10), because: "one reload starts");
        reload.SetResult();
        await Wait.UntilAsync(async () => await cache.GetAsync("kb:lapse", Loads("not loaded: cached"), CancellationToken.None) == "second",
            TimeSpan.FromSeconds(10), because: "the reload replaces the entry");
        Assert.Equal(1, reloads); // readers in between joined the one reload

        // A reload that fails leaves the loaded value in place; twice the duration old, a reader loads it itself.
        clock.Advance(duration + TimeSpan.FromSeconds(1));
        Assert.Equal("second", await cache.GetAsync("kb:lapse", (_, _) => Task.FromException<(string, long)>(new InvalidOperationException("database down")), CancellationToken.None));
        clock.Advance(duration);
        await Wait.UntilAsync(async () =>
        {
            try { return await cache.GetAsync("kb:lapse", Loads("third"), CancellationToken.None) == "third"; }
            catch (InvalidOperationException) { return false; } // joined the failing reload before it ended
        }, TimeSpan.FromSeconds(10), because: "a reader loads an entry twice the duration old");
    }
}
