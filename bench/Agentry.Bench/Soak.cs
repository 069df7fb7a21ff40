using System.Diagnostics;
using System.Globalization;
using HdrHistogram;

namespace Agentry.Bench;

/// <summary>
/// A fixed rate of turns for a long time, one line per 10 seconds: throughput, p50/p99, errors, RSS. Passes when there
/// are no errors and, from the first minute after warm-up to the last minute, RSS grows at most 10 % and p99 at most
/// 20 % (or stays under 50 ms: below that, a 20 % swing is scheduler noise on a shared machine, not drift).
/// </summary>
public static class Soak
{
    public static async Task<int> RunAsync(HttpClient client, ServerProcess server, RequestFactory make, int perSecond, TimeSpan duration, string? csvPath)
    {
        var window = TimeSpan.FromSeconds(10);
        var windows = new List<(double Second, long Requests, long Errors, double P50, double P99, double Rss)>();
        var histogram = new LongHistogram(TimeSpan.FromMinutes(2).Ticks / 10, 3);
        long requests = 0, errors = 0;
        var origin = Stopwatch.GetTimestamp();
        var interval = Stopwatch.Frequency / (double)perSecond;
        var inFlight = new List<Task>();
        var nextWindow = window;
        for (var tick = 0L; ; tick++)
        {
            var scheduled = origin + (long)(tick * interval);
            var at = Stopwatch.GetElapsedTime(origin, scheduled);
            if (at >= duration) break;
            while (at >= nextWindow)
            {
                lock (histogram)
                {
                    windows.Add((nextWindow.TotalSeconds, Interlocked.Exchange(ref requests, 0), Interlocked.Exchange(ref errors, 0),
                        histogram.GetValueAtPercentile(50) / 1000.0, histogram.GetValueAtPercentile(99) / 1000.0, server.Memory().Rss));
                    histogram.Reset();
                }
                Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {windows[^1].Second,5:0} s: {windows[^1].Requests / window.TotalSeconds:0} req/s, p50 {windows[^1].P50:0.0} ms, p99 {windows[^1].P99:0.0} ms, errors {windows[^1].Errors}, RSS {windows[^1].Rss:0} MB"));
                nextWindow += window;
            }
            var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), scheduled);
            if (wait > TimeSpan.Zero) await Task.Delay(wait);
            var request = make(tick, 0);
            inFlight.Add(Task.Run(async () =>
            {
                var ok = false;
                try
                {
                    using var response = await client.SendAsync(request);
                    await response.Content.CopyToAsync(Stream.Null);
                    ok = response.IsSuccessStatusCode;
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException or IOException) { }
                finally { request.Dispose(); }
                var micros = (long)Stopwatch.GetElapsedTime(scheduled).TotalMicroseconds;
                lock (histogram) histogram.RecordValue(Math.Clamp(micros, 0, histogram.HighestTrackableValue));
                Interlocked.Increment(ref requests);
                if (!ok) Interlocked.Increment(ref errors);
            }));
            if (inFlight.Count > 10_000) inFlight.RemoveAll(t => t.IsCompleted);
        }
        await Task.WhenAll(inFlight);

        if (csvPath is not null)
        {
            await File.WriteAllLinesAsync(csvPath, ["second,requests_per_second,p50_ms,p99_ms,errors,rss_mb",
                .. windows.Select(w => string.Create(CultureInfo.InvariantCulture, $"{w.Second:0},{w.Requests / window.TotalSeconds:0},{w.P50:0.00},{w.P99:0.00},{w.Errors},{w.Rss:0}"))]);
        }
        if (windows.Count < 3)
        {
            Console.Error.WriteLine("The soak needs at least 30 s.");
            return 2;
        }
        // Warm-up (JIT, pools, a cold-start queue) is the first tenth of the run and at least the first window. Then the
        // first minute after it is compared with the last minute (shorter runs: a window each), averaging window p99s.
        var warm = Math.Max(1, windows.Count / 10);
        var span = Math.Clamp((windows.Count - warm) / 2, 1, 6);
        var firstMinute = windows.Skip(warm).Take(span).ToList();
        var lastMinute = windows.TakeLast(span).ToList();
        var first = (Rss: firstMinute.Average(w => w.Rss), P99: firstMinute.Average(w => w.P99));
        var last = (Rss: lastMinute.Average(w => w.Rss), P99: lastMinute.Average(w => w.P99));
        var totalErrors = windows.Sum(w => w.Errors);
        var rssGrowth = (last.Rss - first.Rss) / first.Rss * 100;
        var p99Drift = (last.P99 - first.P99) / first.P99 * 100;
        var p99Ok = p99Drift <= 20 || (first.P99 < 50 && last.P99 < 50);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"soak {duration.TotalSeconds:0} s at {perSecond} req/s: errors {totalErrors}, RSS {first.Rss:0} -> {last.Rss:0} MB ({rssGrowth:+0.0;-0.0} %), p99 {first.P99:0.0} -> {last.P99:0.0} ms ({p99Drift:+0;-0} %)"));
        var passed = totalErrors == 0 && rssGrowth <= 10 && p99Ok;
        Console.WriteLine(passed ? "soak passed" : "SOAK FAILED: limits are 0 errors, RSS growth <= 10 %, p99 drift <= 20 % (or both under 50 ms)");
        return passed ? 0 : 1;
    }
}
