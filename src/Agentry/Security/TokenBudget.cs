using Agentry.Api;
using Agentry.Audit;
using Microsoft.Extensions.Options;

namespace Agentry.Security;

/// <summary>Token budgets per key, checked before a turn calls the model and charged with the usage the provider reported.</summary>
public sealed class TokenBudget(IRateLimitStore store, IOptionsMonitor<RateLimitOptions> options, AuditLog audit, Observability.AgentryTelemetry telemetry)
{
    public async Task EnsureAvailableAsync(Caller? caller, CancellationToken cancellationToken)
    {
        if (caller is null || !options.CurrentValue.Enabled) return;
        var (perMinute, perDay) = Limits(caller);
        if (perMinute is null && perDay is null) return;
        var decision = await store.CheckTokensAsync($"key:{caller.KeyId}", perMinute, perDay, cancellationToken);
        if (decision.Allowed) return;
        audit.RecordAggregated(AuditActions.BudgetExceeded, caller.KeyId, null, null, $"tokens-per-{decision.ExceededWindow}");
        telemetry.LimitRejected($"tokens-per-{decision.ExceededWindow}");
        throw new ApiProblemException(429, ProblemTypes.TokenBudgetExceeded, "Token budget exhausted",
            $"This key has used {decision.Used} of its {decision.Limit} model tokens per {decision.ExceededWindow}; the budget renews in {Math.Ceiling(decision.Reset.TotalSeconds)} s.")
        { RetryAfter = decision.Reset };
    }

    public ValueTask ChargeAsync(Caller? caller, long tokens, CancellationToken cancellationToken) =>
        caller is null || tokens <= 0 ? ValueTask.CompletedTask : store.AddTokensAsync($"key:{caller.KeyId}", tokens, cancellationToken);

    (int? PerMinute, int? PerDay) Limits(Caller caller) =>
        (caller.Limits.TokensPerMinute ?? options.CurrentValue.TokensPerMinute, caller.Limits.TokensPerDay ?? options.CurrentValue.TokensPerDay);
}
