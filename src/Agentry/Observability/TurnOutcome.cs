using System.Diagnostics;
using Microsoft.Extensions.Options;

namespace Agentry.Observability;

/// <summary>Tokens one model used for one agent within a turn.</summary>
public sealed record ModelUsage(string Model, string Agent, long InputTokens, long OutputTokens);

/// <summary>How a turn ended, reported once when it is over.</summary>
public sealed record TurnOutcome(
    string ConversationId, string AgentId, string? KeyId, string Model, string Status, string FinishReason, TimeSpan Duration,
    IReadOnlyList<ModelUsage> Usage, Exception? Failure, string? TraceId, Activity? Activity)
{
    public const string Completed = "completed";
    public const string PendingApproval = "pending_approval";
    public const string Interrupted = "interrupted";
    public const string Failed = "failed";

    public long InputTokens => Usage.Sum(u => u.InputTokens);
    public long OutputTokens => Usage.Sum(u => u.OutputTokens);
    public bool Succeeded => Status is Completed or PendingApproval;
}

/// <summary>Something that learns from every finished turn (analytics, resource alerts, error groups).</summary>
public interface ITurnOutcomeListener
{
    void OnTurnFinished(TurnOutcome outcome);
}

/// <summary>
/// The one sink for a turn's outcome. Telemetry is recorded first (turn duration, tokens and cost by model, the turn
/// span's outcome); then each listener consumes the same outcome, so no consumer is called from the turn itself.
/// </summary>
public sealed partial class TurnReporter(AgentryTelemetry telemetry, ModelPrices prices, IEnumerable<ITurnOutcomeListener> listeners, ILogger<TurnReporter> logger)
{
    readonly ITurnOutcomeListener[] _listeners = listeners.ToArray();

    public void Report(TurnOutcome outcome)
    {
        telemetry.TurnCompleted(outcome.AgentId, outcome.Status, outcome.Duration);
        foreach (var usage in outcome.Usage)
        {
            telemetry.TokensUsed(usage.Model, usage.Agent, usage.InputTokens, usage.OutputTokens);
            telemetry.CostIncurred(usage.Model, usage.Agent, prices.Cost(usage.Model, usage.InputTokens, usage.OutputTokens));
        }
        outcome.Activity?.SetTag("agentry.turn.outcome", outcome.Status).SetTag("agentry.agent.final", outcome.AgentId);
        if (outcome.Failure is { } failure) outcome.Activity?.SetStatus(ActivityStatusCode.Error, failure.Message);

        foreach (var listener in _listeners)
        {
            try
            {
                listener.OnTurnFinished(outcome);
            }
            catch (Exception e)
            {
                // A consumer's bug must not turn a finished turn into a failed request.
                LogListenerFailed(e, listener.GetType().Name);
            }
        }
    }

    [LoggerMessage(EventId = 6100, Level = LogLevel.Error, Message = "Turn outcome listener {Listener} failed")]
    partial void LogListenerFailed(Exception exception, string listener);
}

/// <summary>Estimated cost in US dollars from the configured prices per million tokens.</summary>
public sealed class ModelPrices(IOptions<AnalyticsOptions> options)
{
    public double Cost(string model, long input, long output)
    {
        var prices = options.Value.Prices;
        var price = prices.GetValueOrDefault(model) ?? prices.GetValueOrDefault(model[(model.IndexOf('/') + 1)..]);
        return price is null ? 0 : (input * price.InputPerMillion + output * price.OutputPerMillion) / 1_000_000;
    }
}
