using System.Diagnostics;
using System.Text.Json;
using HdrHistogram;

namespace Agentry.Bench;

/// <summary>
/// The scenarios beyond plain request/response: time to the first streamed token (against the upstream's own), a turn
/// in a long conversation against one in a short conversation, and many streams held open at once.
/// </summary>
public static class Scenarios
{
    /// <summary>
    /// Serial streaming requests; the latency is the time until the first line that carries answer text
    /// (<paramref name="firstTokenMarker"/>), so what is measured is what a user waits for before text appears.
    /// </summary>
    public static async Task<LoadResult> TimeToFirstTokenAsync(HttpClient client, string target, Func<HttpRequestMessage> make, string firstTokenMarker, int count)
    {
        var histogram = new LongHistogram(TimeSpan.FromMinutes(2).Ticks / 10, 3);
        long errors = 0;
        string? firstError = null;
        var started = Stopwatch.GetTimestamp();
        for (var i = 0; i < count; i++)
        {
            using var request = make();
            var sent = Stopwatch.GetTimestamp();
            using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
            long? firstToken = null;
            while (await reader.ReadLineAsync() is { } line)
                if (firstToken is null && line.Contains(firstTokenMarker, StringComparison.Ordinal)) firstToken = Stopwatch.GetTimestamp();
            if (!response.IsSuccessStatusCode || firstToken is null)
            {
                errors++;
                firstError ??= response.IsSuccessStatusCode ? $"no '{firstTokenMarker}' in the stream" : $"{(int)response.StatusCode}";
                continue;
            }
            histogram.RecordValue((long)Stopwatch.GetElapsedTime(sent, firstToken.Value).TotalMicroseconds);
        }
        return Result(histogram, target, "streaming: time to first token", count, errors, Stopwatch.GetElapsedTime(started).TotalSeconds, firstError);
    }

    /// <summary>
    /// Writes a user-data export (the format <c>agentry import user</c> reads) with one conversation per requested
    /// length, for the support agent; returns the file and the conversation ids in order.
    /// </summary>
    public static (string File, List<string> ConversationIds) WriteHistoryExport(string folder, params int[] lengths)
    {
        var start = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
        var conversations = new List<object>();
        var ids = new List<string>();
        foreach (var length in lengths)
        {
            var id = $"conv_benchhistory{length:D8}";
            ids.Add(id);
            var messages = Enumerable.Range(0, length).Select(m => new
            {
                id = $"msg_benchhistory{length:D8}{m:D6}",
                sequence = m + 1,
                role = m % 2 == 0 ? "user" : "assistant",
                agentId = "support",
                content = m % 2 == 0 ? $"Question {m} about my invoice and the refund for last month's double charge." : $"Answer {m}: the refund was filed and reaches your card within five business days.",
                model = m % 2 == 0 ? null : "gpt-4o-mini",
                status = "completed",
                createdAt = start.AddSeconds(m),
            }).ToList();
            conversations.Add(new { id, agentId = "support", title = $"{length} messages", createdAt = start, updatedAt = start.AddSeconds(length), messages, approvals = Array.Empty<object>() });
        }
        var export = new
        {
            format = "agentry.user-data/1", userId = "bench-history", exportedAt = start, exportedBy = "bench",
            conversationCount = conversations.Count, messageCount = lengths.Sum(), conversations,
        };
        var file = Path.Combine(folder, "history.json");
        File.WriteAllText(file, JsonSerializer.Serialize(export));
        return (file, ids);
    }

    /// <summary>
    /// Opens <paramref name="streams"/> streaming turns at once against an upstream that trickles its answer, and
    /// samples the server's memory while they are all open. Each stream is counted once it has ended with turn.completed.
    /// </summary>
    public static async Task<(LoadResult Result, double PeakRss)> OpenStreamsAsync(HttpClient client, ServerProcess server, Func<HttpRequestMessage> make, int streams)
    {
        var histogram = new LongHistogram(TimeSpan.FromMinutes(5).Ticks / 10, 3);
        long errors = 0;
        string? firstError = null;
        var peak = 0.0;
        var started = Stopwatch.GetTimestamp();
        using var sampling = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            while (!sampling.IsCancellationRequested)
            {
                peak = Math.Max(peak, server.Memory().Rss);
                try { await Task.Delay(100, sampling.Token); } catch (OperationCanceledException) { }
            }
        });
        await Task.WhenAll(Enumerable.Range(0, streams).Select(_ => Task.Run(async () =>
        {
            var sent = Stopwatch.GetTimestamp();
            try
            {
                using var request = make();
                using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
                var body = await response.Content.ReadAsStringAsync();
                if (!response.IsSuccessStatusCode || !body.Contains("event: turn.completed", StringComparison.Ordinal))
                {
                    Interlocked.Increment(ref errors);
                    firstError ??= response.IsSuccessStatusCode ? "stream ended without turn.completed" : $"{(int)response.StatusCode}";
                    return;
                }
                lock (histogram) histogram.RecordValue((long)Stopwatch.GetElapsedTime(sent).TotalMicroseconds);
            }
            catch (Exception e) when (e is HttpRequestException or IOException or TaskCanceledException)
            {
                Interlocked.Increment(ref errors);
                firstError ??= e.GetType().Name + ": " + e.Message;
            }
        })));
        sampling.Cancel();
        await sampler;
        return (Result(histogram, server.Name, $"{streams} streams open at once", streams, errors, Stopwatch.GetElapsedTime(started).TotalSeconds, firstError), peak);
    }

    static LoadResult Result(LongHistogram histogram, string target, string mode, long requests, long errors, double seconds, string? firstError)
    {
        double Ms(double percentile) => histogram.TotalCount == 0 ? 0 : histogram.GetValueAtPercentile(percentile) / 1000.0;
        return new LoadResult(target, mode, requests, errors, requests / Math.Max(seconds, 1e-9), Ms(50), Ms(95), Ms(99),
            histogram.TotalCount == 0 ? 0 : histogram.GetMaxValue() / 1000.0, 0, firstError);
    }
}
