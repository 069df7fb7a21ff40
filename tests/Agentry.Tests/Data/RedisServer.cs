using System.Diagnostics;
using StackExchange.Redis;

namespace Agentry.Tests.Data;

/// <summary>
/// A throw-away <c>redis-server</c> (the Debian package) on a free loopback port with persistence off. Each test that
/// needs one starts its own, so instances of different tests never share keys; disposed with the test.
/// </summary>
public sealed class RedisServer : IAsyncDisposable
{
    readonly Process _process;

    RedisServer(Process process, int port)
    {
        _process = process;
        Port = port;
    }

    public int Port { get; }
    public string Configuration => $"127.0.0.1:{Port}";

    public static async Task<RedisServer> StartAsync()
    {
        var port = PostgresServer.FreePort();
        var start = new ProcessStartInfo("redis-server")
        {
            ArgumentList = { "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no" },
            RedirectStandardOutput = true, RedirectStandardError = true,
        };
        var process = Process.Start(start) ?? throw new InvalidOperationException("redis-server did not start (apt-get install redis-server; .ci/run does this)");
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var server = new RedisServer(process, port);
        await Wait.UntilAsync(async () =>
        {
            try
            {
                await using var probe = await ConnectionMultiplexer.ConnectAsync(server.Configuration + ",connectTimeout=500");
                return (await probe.GetDatabase().PingAsync()) < TimeSpan.FromSeconds(5);
            }
            catch (RedisConnectionException)
            {
                return false;
            }
        }, TimeSpan.FromSeconds(20), "redis-server accepts connections");
        return server;
    }

    bool _stopped;

    /// <summary>Stops the server (a test may do it early, to show what happens when Redis goes away); safe to call twice.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_stopped) return;
        _stopped = true;
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
        _process.Dispose();
    }
}
