using System.Diagnostics;
using Microsoft.Extensions.Options;

namespace Agentry.Observability;

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
