using Agentry.Api;
using Agentry.Audit;
using Microsoft.Extensions.Options;

namespace Agentry.Security;

/// <summary>
/// Token budgets per key. Every model call reserves what it may cost (its prompt and the most it may answer) before it
/// starts and settles to what the provider reported when it ends, so concurrent turns of one key cannot together spend
/// more than its budget: a check-then-charge would let them all pass the check at once.
/// </summary>
public sealed class TokenBudget(IRateLimitStore store, IOptionsMonitor<RateLimitOptions> options, AuditLog audit, Observability.AgentryTelemetry telemetry)
{
    /// <summary>The answer limit of a budgeted call whose agent sets none (<see cref="RateLimitOptions.MaxOutputTokens"/>).</summary>
    public int DefaultMaxOutputTokens => options.CurrentValue.MaxOutputTokens;

    /// <summary>
    /// Reserves a model call's prompt and its most possible answer, or throws the problem that ends the turn (429 while
    /// the budget is used up, 422 when the call is larger than the whole budget); null when the caller has no budget.
    /// </summary>
    /// <param name="promptTokens">Asked only when a budget applies to the caller (counting a prompt is not free).</param>
    public async Task<TokenReservation?> ReserveAsync(Caller caller, Func<int> promptTokens, int maxOutputTokens, CancellationToken cancellationToken)
    {
        var settings = options.CurrentValue;
        if (!settings.Enabled) return null;
        var (perMinute, perDay) = (caller.Limits.TokensPerMinute ?? settings.TokensPerMinute, caller.Limits.TokensPerDay ?? settings.TokensPerDay);
        if (perMinute is null && perDay is null) return null;
        var needed = (long)promptTokens() + maxOutputTokens;
        var decision = await store.TryReserveTokensAsync($"key:{caller.KeyId}", needed, perMinute, perDay, cancellationToken);
        if (decision.Reservation is { } reservation) return reservation;

        audit.RecordAggregated(AuditActions.BudgetExceeded, caller.KeyId, null, null, $"tokens-per-{decision.ExceededWindow}");
        telemetry.LimitRejected($"tokens-per-{decision.ExceededWindow}");
        if (needed > decision.Limit)
            // Waiting would not help, and a 429 would send SDKs into a retry loop: say what to change instead.
            throw new ApiProblemException(422, ProblemTypes.TokenBudgetTooSmall, "Token budget too small for this agent",
                $"A call of this agent may use about {needed} model tokens (its prompt and up to {maxOutputTokens} for the answer), more than this key's whole budget of {decision.Limit} per {decision.ExceededWindow}. Raise the key's token limit or lower the agent's maxOutputTokens.");
        throw new ApiProblemException(429, ProblemTypes.TokenBudgetExceeded, "Token budget exhausted",
            $"This key has used {decision.Used} of its {decision.Limit} model tokens per {decision.ExceededWindow} and the next model call may need about {needed}; the budget renews in {Math.Ceiling(decision.Reset.TotalSeconds)} s.")
        { RetryAfter = decision.Reset };
    }

    /// <summary>Throws as <see cref="ReserveAsync"/> would when the budget has no room for <paramref name="tokens"/> now; holds nothing.</summary>
    public async Task EnsureRoomAsync(Caller caller, int tokens, CancellationToken cancellationToken) =>
        await SettleAsync(await ReserveAsync(caller, static () => 0, tokens, cancellationToken), 0);

    /// <summary>Replaces the reservation with what the call used. Runs even when the turn was cancelled: the provider still charged.</summary>
    public ValueTask SettleAsync(TokenReservation? reservation, long usedTokens) =>
        reservation is null ? ValueTask.CompletedTask : store.SettleTokensAsync(reservation, usedTokens, CancellationToken.None);
}
