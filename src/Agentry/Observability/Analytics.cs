using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Agentry.Api;
using Agentry.Data;
using Agentry.Security;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Agentry.Observability;

/// <summary>One day's totals for one value of one dimension (a key, an agent, a model, a route, a minute's turns (HH:mm), or the whole day).</summary>
public sealed class AnalyticsBucket
{
    public required string Day { get; set; }
    public required string Dimension { get; set; }
    public required string Value { get; set; }
    public long Requests { get; set; }
    public long Errors { get; set; }
    public long InputTokens { get; set; }
    public long OutputTokens { get; set; }
    public double CostUsd { get; set; }
    /// <summary>Latency counts per <see cref="Analytics.BucketBoundsMs"/> bucket, as a JSON array: percentiles survive merging.</summary>
    public string Latency { get; set; } = "[]";
}

public sealed class ModelPrice
{
    public double InputPerMillion { get; set; }
    public double OutputPerMillion { get; set; }
}

public sealed class AnalyticsOptions
{
    public const string Section = "Analytics";

    /// <summary>USD per million tokens, by model (<c>openai/gpt-4o</c> or just <c>gpt-4o</c>). GPT-4o's list prices ship as the default.</summary>
    public Dictionary<string, ModelPrice> Prices { get; set; } = new(StringComparer.OrdinalIgnoreCase)
    {
        ["gpt-4o"] = new() { InputPerMillion = 2.50, OutputPerMillion = 10.00 },
        ["gpt-4o-mini"] = new() { InputPerMillion = 0.15, OutputPerMillion = 0.60 },
    };

    public TimeSpan FlushInterval { get; set; } = TimeSpan.FromSeconds(30);
}

/// <summary>
/// Request and turn analytics, aggregated in memory per day and dimension and merged into <c>analytics_buckets</c>
/// periodically and on shutdown: no database write per request.
/// </summary>
public sealed class Analytics(TimeProvider time, ModelPrices prices) : ITurnOutcomeListener
{
    public static readonly double[] BucketBoundsMs = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 30_000, 60_000, 120_000, double.PositiveInfinity];
    public static readonly string[] Dimensions = ["key", "agent", "model", "route", "day", "minute"];

    readonly ConcurrentDictionary<(string Day, string Dimension, string Value), Pending> _pending = new();

    sealed class Pending
    {
        public long Requests, Errors, InputTokens, OutputTokens;
        public double CostUsd;
        public readonly long[] Latency = new long[BucketBoundsMs.Length];
    }

    /// <summary>An HTTP request: counted for its key, its route and the day.</summary>
    public void RecordRequest(string? keyId, string route, int status, TimeSpan latency)
    {
        var day = Today();
        foreach (var (dimension, value) in new[] { ("key", keyId ?? "anonymous"), ("route", route), ("day", "all") })
            Add(day, dimension, value, p =>
            {
                Interlocked.Increment(ref p.Requests);
                if (status >= 400) Interlocked.Increment(ref p.Errors);
                Interlocked.Increment(ref p.Latency[Bucket(latency)]);
            });
    }

    /// <summary>A turn: counted as a request for its agent and model; its tokens and cost count everywhere.</summary>
    public void OnTurnFinished(TurnOutcome outcome)
    {
        if (outcome.IsEval) return; // an eval run's turns are its report's figures, not the service's traffic
        RecordTurn(outcome.KeyId, outcome.AgentId, outcome.Model, !outcome.Succeeded, outcome.Duration, outcome.InputTokens, outcome.OutputTokens);
    }

    void RecordTurn(string? keyId, string agent, string model, bool failed, TimeSpan latency, long inputTokens, long outputTokens)
    {
        var now = time.GetUtcNow();
        var day = now.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
        var minute = now.ToString("HH:mm", CultureInfo.InvariantCulture);
        var cost = prices.Cost(model, inputTokens, outputTokens);
        // Turns per minute (at most 1,440 rows a day): the console's live chart, the same on every instance.
        foreach (var (dimension, value) in new[] { ("agent", agent), ("model", model), ("minute", minute) })
            Add(day, dimension, value, p =>
            {
                Interlocked.Increment(ref p.Requests);
                if (failed) Interlocked.Increment(ref p.Errors);
                Interlocked.Increment(ref p.Latency[Bucket(latency)]);
            });
        foreach (var (dimension, value) in new[] { ("agent", agent), ("model", model), ("minute", minute), ("key", keyId ?? "anonymous"), ("day", "all") })
            Add(day, dimension, value, p =>
            {
                Interlocked.Add(ref p.InputTokens, inputTokens);
                Interlocked.Add(ref p.OutputTokens, outputTokens);
                lock (p) p.CostUsd += cost;
            });
    }

    void Add(string day, string dimension, string value, Action<Pending> change) => change(_pending.GetOrAdd((day, dimension, value), _ => new Pending()));

    string Today() => time.GetUtcNow().ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);

    static int Bucket(TimeSpan latency)
    {
        var ms = latency.TotalMilliseconds;
        for (var i = 0; i < BucketBoundsMs.Length; i++) if (ms <= BucketBoundsMs[i]) return i;
        return BucketBoundsMs.Length - 1;
    }

    public async Task FlushAsync(AgentryDbContext db, CancellationToken cancellationToken)
    {
        foreach (var key in _pending.Keys)
        {
            if (!_pending.TryRemove(key, out var p)) continue;
            var row = await db.AnalyticsBuckets.FirstOrDefaultAsync(b => b.Day == key.Day && b.Dimension == key.Dimension && b.Value == key.Value, cancellationToken);
            if (row is null) db.AnalyticsBuckets.Add(row = new AnalyticsBucket { Day = key.Day, Dimension = key.Dimension, Value = key.Value });
            row.Requests += p.Requests;
            row.Errors += p.Errors;
            row.InputTokens += p.InputTokens;
            row.OutputTokens += p.OutputTokens;
            row.CostUsd += p.CostUsd;
            var latency = JsonSerializer.Deserialize<long[]>(row.Latency) is { Length: > 0 } stored ? stored : new long[BucketBoundsMs.Length];
            for (var i = 0; i < latency.Length; i++) latency[i] += p.Latency[i];
            row.Latency = JsonSerializer.Serialize(latency);
        }
        await db.SaveChangesAsync(cancellationToken);
    }

    /// <summary>The bucket's upper bound below which the given share of samples fall (null without samples).</summary>
    public static double? Percentile(long[] counts, double share)
    {
        var total = counts.Sum();
        if (total == 0) return null;
        long seen = 0;
        for (var i = 0; i < counts.Length; i++)
        {
            seen += counts[i];
            if (seen >= share * total) return double.IsInfinity(BucketBoundsMs[i]) ? BucketBoundsMs[^2] : BucketBoundsMs[i];
        }
        return BucketBoundsMs[^2];
    }
}

public sealed class AnalyticsFlusher(Analytics analytics, IServiceScopeFactory scopes, IOptions<AnalyticsOptions> options, ILogger<AnalyticsFlusher> logger)
    : PeriodicFlush(scopes, logger, options.Value.FlushInterval)
{
    protected override string What => "analytics";

    protected override SharedLock? Lock => SharedLock.Analytics;

    protected override Task FlushAsync(AgentryDbContext db, CancellationToken cancellationToken) => analytics.FlushAsync(db, cancellationToken);
}

public sealed record AnalyticsRow(
    string Group, long Requests, long Errors, double? LatencyP50Ms, double? LatencyP95Ms, double? LatencyP99Ms, long InputTokens, long OutputTokens, double EstimatedCostUsd);
