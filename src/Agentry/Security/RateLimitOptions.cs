using System.Collections.Concurrent;
using System.ComponentModel.DataAnnotations;
using System.Threading.RateLimiting;

namespace Agentry.Security;

public sealed class RateLimitOptions
{
    public const string Section = "RateLimit";

    public bool Enabled { get; set; } = true;

    /// <summary>Requests per minute per key (per client IP without a key); a key's own limit wins. Alias: API_RATE_LIMIT.</summary>
    [Range(1, 10_000_000)]
    public int PermitsPerMinute { get; set; } = 100;

    /// <summary>Requests in flight at once per key (per client IP without a key).</summary>
    [Range(1, 100_000)]
    public int ConcurrentRequests { get; set; } = 20;

    /// <summary>
    /// Model tokens (input + output) per key per minute; a key's own limit wins. Finite by default so a leaked or runaway
    /// key cannot spend without bound; set it empty for no limit.
    /// </summary>
    [Range(1, int.MaxValue)]
    public int? TokensPerMinute { get; set; } = 100_000;

    /// <summary>Model tokens per key per UTC day; a key's own limit wins; empty means no limit.</summary>
    [Range(1, int.MaxValue)]
    public int? TokensPerDay { get; set; } = 1_000_000;

    /// <summary>
    /// The most a budgeted model call may answer when its agent sets no <c>maxOutputTokens</c>: sent to the provider as the
    /// call's limit and reserved from the key's budget with the prompt, so a reservation is a real upper bound.
    /// </summary>
    [Range(1, 1_000_000)]
    public int MaxOutputTokens { get; set; } = 4_096;
}
