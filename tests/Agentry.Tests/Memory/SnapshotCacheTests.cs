using Agentry.Data;
using Agentry.Memory;

namespace Agentry.Tests.Memory;

/// <summary>
/// The in-process cache of knowledge bases and memories never serves what a committed change replaced: while a change
/// runs, readers load from the database, and after it nothing from before it is kept.
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
}
