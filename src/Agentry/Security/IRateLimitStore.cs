using System.Collections.Concurrent;
using System.ComponentModel.DataAnnotations;
using System.Threading.RateLimiting;

namespace Agentry.Security;

/// <summary>
/// Where limiter state lives. The in-process store serves one instance; a Redis-backed store replaces it for
/// several instances behind a load balancer, without changing the middleware or the turn code.
/// </summary>
public interface IRateLimitStore
{
    ValueTask<RateLimitDecision> AcquireRequestAsync(string partition, int permitsPerMinute, CancellationToken cancellationToken);
    /// <summary>A lease to dispose when the request ends, or a decision with Allowed = false.</summary>
    ValueTask<RateLimitDecision> AcquireConcurrencyAsync(string partition, int limit, CancellationToken cancellationToken);
    /// <summary>Reserves <paramref name="tokens"/> only if every window still has room for them: a check and a charge in one step.</summary>
    ValueTask<TokenBudgetDecision> TryReserveTokensAsync(string partition, long tokens, int? perMinute, int? perDay, CancellationToken cancellationToken);
    /// <summary>Replaces a reservation with what the call really used (more or less than reserved).</summary>
    ValueTask SettleTokensAsync(TokenReservation reservation, long usedTokens, CancellationToken cancellationToken);
}
