using System.Diagnostics;
using HdrHistogram;

namespace Agentry.Bench;

/// <summary>What one load run measured. Latencies in milliseconds.</summary>
public sealed record LoadResult(
    string Target, string Mode, long Requests, long Errors, double PerSecond, double P50, double P95, double P99, double Max,
    double PerSecondStdDevPercent, string? FirstError)
{
    public double Percentile(double p) => p switch { 50 => P50, 95 => P95, 99 => P99, _ => Max };
}

/// <summary>One way of calling a target: a fresh request each time (the index lets a caller spread work over conversations).</summary>
public delegate HttpRequestMessage RequestFactory(long index, int worker);

/// <summary>
/// Closed-loop saturation (N workers, each sending its next request when the last one answered), open-loop fixed rate
/// (bursts on a schedule; latency counted from the scheduled moment, so a stall is not hidden by the generator waiting
/// for it — no coordinated omission), and serial calls for added latency. Every response body is read to the end.
/// </summary>
public static class Load
{
    public static HttpClient NewClient() => new(new SocketsHttpHandler
    {
        MaxConnectionsPerServer = int.MaxValue,
        PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
        UseProxy = false,
    })
    { Timeout = TimeSpan.FromSeconds(60) };

    public static async Task<LoadResult> ClosedLoopAsync(HttpClient client, string target, RequestFactory make, int workers, TimeSpan duration)
    {
        var run = new Run(target, $"saturated, {workers} connections", duration);
        long next = 0;
        var deadline = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        await Task.WhenAll(Enumerable.Range(0, workers).Select(worker => Task.Run(async () =>
        {
            while (Stopwatch.GetTimestamp() < deadline)
            {
                var started = Stopwatch.GetTimestamp();
                await run.SendAsync(client, make(Interlocked.Increment(ref next), worker), started);
            }
        })));
        return run.Result();
    }

    public static async Task<LoadResult> FixedRateAsync(HttpClient client, string target, RequestFactory make, int perSecond, int burst, TimeSpan duration)
    {
        var run = new Run(target, $"{perSecond} req/s (bursts of {burst})", duration);
        var interval = (double)burst / perSecond * Stopwatch.Frequency;
        var origin = Stopwatch.GetTimestamp();
        var sent = new List<Task>();
        long index = 0;
        for (var tick = 0L; ; tick++)
        {
            var scheduled = origin + (long)(tick * interval);
            if (scheduled - origin > duration.TotalSeconds * Stopwatch.Frequency) break;
            var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), scheduled);
            if (wait > TimeSpan.Zero) await Task.Delay(wait);
            for (var b = 0; b < burst; b++)
            {
                var request = make(++index, b);
                sent.Add(Task.Run(() => run.SendAsync(client, request, scheduled)));
            }
        }
        await Task.WhenAll(sent);
        return run.Result();
    }

    public static async Task<LoadResult> SerialAsync(HttpClient client, string target, RequestFactory make, int count)
    {
        var run = new Run(target, "serial", TimeSpan.Zero);
        for (var i = 0; i < count; i++) await run.SendAsync(client, make(i, 0), Stopwatch.GetTimestamp());
        return run.Result();
    }

    /// <summary>
    /// Serial calls to several targets in turn (a, b, c, a, b, c, …), each into its own histogram: all are measured
    /// under the same conditions (garbage collections, caches, background work of the process), so their differences
    /// do not depend on which was measured first.
    /// </summary>
    public static async Task<LoadResult[]> InterleavedAsync(HttpClient client, IReadOnlyList<(string Target, RequestFactory Make)> targets, int count)
    {
        var runs = targets.Select(t => new Run(t.Target, "serial, interleaved", TimeSpan.Zero)).ToArray();
        for (var i = 0; i < count; i++)
            for (var t = 0; t < runs.Length; t++) await runs[t].SendAsync(client, targets[t].Make(i, 0), Stopwatch.GetTimestamp());
        return runs.Select(r => r.Result()).ToArray();
    }

    sealed class Run(string target, string mode, TimeSpan duration)
    {
        readonly LongHistogram _latencies = new(TimeSpan.FromMinutes(2).Ticks / 10, 3); // microseconds
        readonly long[] _perSecond = new long[Math.Max(1, (int)Math.Ceiling(duration.TotalSeconds) + 1)];
        readonly long _origin = Stopwatch.GetTimestamp();
        long _requests;
        long _errors;
        string? _firstError;

        public async Task SendAsync(HttpClient client, HttpRequestMessage request, long scheduled)
        {
            var ok = false;
            try
            {
                using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
                await response.Content.CopyToAsync(Stream.Null);
                ok = response.IsSuccessStatusCode;
                if (!ok) _firstError ??= $"{(int)response.StatusCode} {response.ReasonPhrase}";
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException or IOException)
            {
                _firstError ??= e.GetType().Name + ": " + e.Message;
            }
            finally
            {
                request.Dispose();
            }
            var now = Stopwatch.GetTimestamp();
            var micros = (long)Stopwatch.GetElapsedTime(scheduled, now).TotalMicroseconds;
            lock (_latencies) _latencies.RecordValue(Math.Clamp(micros, 0, _latencies.HighestTrackableValue)); // a timer may wake a little early
            Interlocked.Increment(ref _requests);
            if (!ok) Interlocked.Increment(ref _errors);
            var second = (int)Stopwatch.GetElapsedTime(_origin, now).TotalSeconds;
            if (second < _perSecond.Length) Interlocked.Increment(ref _perSecond[second]);
        }

        public LoadResult Result()
        {
            double Ms(double percentile) => _latencies.GetValueAtPercentile(percentile) / 1000.0;
            var elapsed = Stopwatch.GetElapsedTime(_origin).TotalSeconds;
            // Whole seconds only: the last partial second would look like a stall.
            var seconds = _perSecond.Take(Math.Max(1, (int)Math.Floor(duration.TotalSeconds))).Select(c => (double)c).ToArray();
            var mean = seconds.Average();
            var deviation = Math.Sqrt(seconds.Sum(c => (c - mean) * (c - mean)) / seconds.Length);
            return new LoadResult(target, mode, _requests, _errors, _requests / Math.Max(elapsed, 1e-9), Ms(50), Ms(95), Ms(99), _latencies.GetMaxValue() / 1000.0,
                mean > 0 && duration > TimeSpan.Zero ? deviation / mean * 100 : 0, _firstError);
        }
    }
}
