using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Agentry.Tests;

public static class Wait
{
    /// <summary>Polls a condition until it holds or the timeout passes; tests wait on conditions, not sleeps.</summary>
    public static async Task UntilAsync(Func<Task<bool>> condition, TimeSpan? timeout = null, string? because = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(10));
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline) Assert.Fail($"Timed out waiting: {because ?? "condition"}");
            await Task.Delay(20);
        }
    }

    public static Task UntilAsync(Func<bool> condition, TimeSpan? timeout = null, string? because = null) =>
        UntilAsync(() => Task.FromResult(condition()), timeout, because);

    /// <summary>
    /// Rate limits and token budgets count per UTC minute: a test that counts what one window allows starts early in a
    /// minute, so its requests cannot straddle a boundary and meet two windows (seen in CI).
    /// </summary>
    public static Task ForAFreshMinuteAsync(int secondsNeeded = 20) =>
        UntilAsync(() => DateTimeOffset.UtcNow.Second < 60 - secondsNeeded, TimeSpan.FromSeconds(secondsNeeded + 2), "a minute with room for the test's requests");
}
