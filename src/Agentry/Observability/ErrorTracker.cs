using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Agentry.Api;
using Agentry.Data;
using Agentry.Models;
using Agentry.Security;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace Agentry.Observability;

/// <summary>A kind of failure seen one or more times: same exception type and top frames, or same upstream problem.</summary>
public sealed class ErrorGroup
{
    public required string Fingerprint { get; set; }
    /// <summary><c>exception</c> (a bug) or <c>upstream</c> (a model provider failure).</summary>
    public required string Kind { get; set; }

    public static readonly string[] Kinds = ["exception", "upstream"];
    public required string Type { get; set; }
    public string? Frames { get; set; }
    public long Count { get; set; }
    public DateTimeOffset FirstSeen { get; set; }
    public DateTimeOffset LastSeen { get; set; }
    public string? SampleTraceId { get; set; }
    /// <summary>The latest message, with anything that looks like a secret removed.</summary>
    public string? LastMessage { get; set; }
}

public sealed record ErrorGroupDto(string Fingerprint, string Kind, string Type, string? Frames, long Count, DateTimeOffset FirstSeen, DateTimeOffset LastSeen,
    string? SampleTraceId, string? LastMessage)
{
    public static ErrorGroupDto From(ErrorGroup g) => new(g.Fingerprint, g.Kind, g.Type, g.Frames, g.Count, g.FirstSeen, g.LastSeen, g.SampleTraceId, g.LastMessage);
}

/// <summary>
/// Groups unhandled exceptions and upstream failures by fingerprint. Occurrences are counted in memory and merged
/// into the <c>error_groups</c> table every few seconds and on shutdown, so an error storm costs no write per error.
/// </summary>
public sealed partial class ErrorTracker(TimeProvider time) : ITurnOutcomeListener
{
    readonly ConcurrentDictionary<string, ErrorGroup> _pending = new(StringComparer.Ordinal);
    // A turn's failure reaches both the outcome report and, for a plain request, the exception handler: count it once.
    readonly ConditionalWeakTable<Exception, object> _seen = [];

    /// <summary>Server-side failures only: a turn refused for a client reason (a budget, a missing agent) is not an error.</summary>
    public void OnTurnFinished(TurnOutcome outcome)
    {
        // An eval run's failures are in its report; the error groups are the service's own.
        if (!outcome.IsEval && outcome.Failure is { } failure && ApiExceptionHandler.Describe(failure, out _).Status >= 500) Record(failure, outcome.TraceId);
    }

    public void Record(Exception exception, string? traceId)
    {
        if (!_seen.TryAdd(exception, this)) return;
        var now = time.GetUtcNow();
        var upstream = UpstreamModelException.TryClassify(exception);
        string kind, type, fingerprintSource;
        string? frames = null;
        if (upstream is not null)
        {
            kind = "upstream";
            type = $"{upstream.Type} ({upstream.Status})";
            fingerprintSource = $"upstream|{upstream.Type}|{upstream.Status}";
        }
        else
        {
            kind = "exception";
            var root = exception is InvalidOperationException { InnerException: { } inner } ? inner : exception;
            type = root.GetType().FullName ?? root.GetType().Name;
            frames = string.Join(" < ", new StackTrace(root, false).GetFrames().Select(f => f.GetMethod()).Where(m => m is not null)
                .Select(m => $"{m!.DeclaringType?.Name}.{m.Name}").Take(3));
            fingerprintSource = $"{type}|{frames}";
        }
        var fingerprint = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(fingerprintSource)))[..16];
        var message = Scrub((upstream ?? exception).Message);
        _pending.AddOrUpdate(fingerprint,
            _ => new ErrorGroup { Fingerprint = fingerprint, Kind = kind, Type = type, Frames = frames, Count = 1, FirstSeen = now, LastSeen = now, SampleTraceId = traceId, LastMessage = message },
            (_, g) =>
            {
                lock (g)
                {
                    g.Count++;
                    g.LastSeen = now;
                    g.LastMessage = message;
                    g.SampleTraceId ??= traceId;
                }
                return g;
            });
    }

    /// <summary>Merges the counted occurrences into the table.</summary>
    public async Task FlushAsync(AgentryDbContext db, CancellationToken cancellationToken)
    {
        foreach (var fingerprint in _pending.Keys)
        {
            if (!_pending.TryRemove(fingerprint, out var seen)) continue;
            var stored = await db.ErrorGroups.FirstOrDefaultAsync(g => g.Fingerprint == fingerprint, cancellationToken);
            if (stored is null) db.ErrorGroups.Add(seen);
            else
            {
                stored.Count += seen.Count;
                stored.LastSeen = seen.LastSeen;
                stored.LastMessage = seen.LastMessage;
                stored.SampleTraceId ??= seen.SampleTraceId;
            }
        }
        await db.SaveChangesAsync(cancellationToken);
    }

    public static string Scrub(string message)
    {
        var scrubbed = SecretPattern().Replace(message, "[secret]");
        return scrubbed.Length > 1000 ? scrubbed[..1000] + "…" : scrubbed;
    }

    [GeneratedRegex(@"\b(?:sk|agk|pk|rk)[-_][A-Za-z0-9_\-]{8,}|(?<=Bearer\s)\S+|(?<=(?:api[-_]?key|password|secret|token)[""']?\s*[=:]\s*[""']?)[^\s""',;]+", RegexOptions.IgnoreCase)]
    private static partial Regex SecretPattern();
}

public sealed class ErrorTrackerFlusher(ErrorTracker tracker, IServiceScopeFactory scopes, ILogger<ErrorTrackerFlusher> logger)
    : PeriodicFlush(scopes, logger, TimeSpan.FromSeconds(10))
{
    protected override string What => "error groups";

    protected override SharedLock? Lock => SharedLock.ErrorGroups;

    protected override Task FlushAsync(AgentryDbContext db, CancellationToken cancellationToken) => tracker.FlushAsync(db, cancellationToken);
}
