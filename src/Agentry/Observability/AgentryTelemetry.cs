using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Agentry.Observability;

/// <summary>
/// Agentry's own instruments and activity source. Names follow OpenTelemetry conventions (dot-separated, units in
/// seconds); docs/observability.md lists every one with its Prometheus name.
/// </summary>
public sealed class AgentryTelemetry
{
    public const string Name = "Agentry";
    public static readonly ActivitySource Source = new(Name, Operations.OperationsExtensions.Version);

    readonly Histogram<double> _turnDuration;
    readonly Counter<long> _tokens;
    readonly Counter<long> _handoffs;
    readonly Counter<long> _toolCalls;
    readonly Histogram<double> _toolDuration;
    readonly Counter<long> _ruleDecisions;
    readonly Counter<long> _limitRejections;
    readonly UpDownCounter<long> _activeStreams;
    readonly Counter<double> _cost;
    readonly Counter<long> _modelFailures;
    readonly Counter<long> _authFailures;
    readonly Counter<long> _auditWriteFailures;

    public AgentryTelemetry(IMeterFactory meters)
    {
        var meter = meters.Create(Name, Operations.OperationsExtensions.Version);
        _turnDuration = meter.CreateHistogram<double>("agentry.turn.duration", "s", "Time to complete a turn, by the agent that answered and the outcome.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120] });
        _tokens = meter.CreateCounter<long>("agentry.tokens", "{token}", "Model tokens used, by model, agent and direction (input/output).");
        _handoffs = meter.CreateCounter<long>("agentry.handoffs", "{handoff}", "Conversations handed from one agent to another, by how it was decided.");
        _toolCalls = meter.CreateCounter<long>("agentry.tool.calls", "{call}", "Tool calls by tool and outcome.");
        // Second-scale buckets: the default ones are for milliseconds and would put every tool call in the first bucket.
        _toolDuration = meter.CreateHistogram<double>("agentry.tool.duration", "s", "How long tool calls take, by tool.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] });
        _ruleDecisions = meter.CreateCounter<long>("agentry.rule.decisions", "{decision}", "Rules that fired, by rule, stage and action.");
        _limitRejections = meter.CreateCounter<long>("agentry.limit.rejections", "{request}", "Requests refused by rate limits and token budgets, by kind.");
        _cost = meter.CreateCounter<double>("agentry.cost.usd", "{USD}", "Estimated model cost in US dollars (Analytics:Prices), by model and agent.");
        _modelFailures = meter.CreateCounter<long>("agentry.model.failures", "{call}", "Model calls that failed after retries, by model and problem type.");
        _authFailures = meter.CreateCounter<long>("agentry.auth.failures", "{request}", "Requests refused for a missing, unknown, revoked or expired key, by reason.");
        _auditWriteFailures = meter.CreateCounter<long>("agentry.audit.write_failures", "{write}", "Audit chain writes that failed after retries (the events are kept and retried).");
        _activeStreams = meter.CreateUpDownCounter<long>("agentry.sse.active", "{stream}", "Server-Sent Event streams open right now.");
        Meter = meter;
    }

    public Meter Meter { get; }

    public void TurnCompleted(string agent, string status, TimeSpan duration) =>
        _turnDuration.Record(duration.TotalSeconds, new("agent", agent), new("status", status));

    public void TokensUsed(string model, string agent, long input, long output)
    {
        if (input > 0) _tokens.Add(input, new("model", model), new("agent", agent), new("direction", "input"));
        if (output > 0) _tokens.Add(output, new("model", model), new("agent", agent), new("direction", "output"));
    }

    public void CostIncurred(string model, string agent, double usd)
    {
        if (usd > 0) _cost.Add(usd, new("model", model), new("agent", agent));
    }

    public void HandedOff(string from, string to, string mode) => _handoffs.Add(1, new("from", from), new("to", to), new("mode", mode));

    public void ToolCalled(string tool, string outcome, TimeSpan duration)
    {
        _toolCalls.Add(1, new("tool", tool), new("outcome", outcome));
        _toolDuration.Record(duration.TotalSeconds, new KeyValuePair<string, object?>("tool", tool));
    }

    public void RuleDecided(string rule, string stage, string action) => _ruleDecisions.Add(1, new("rule", rule), new("stage", stage), new("action", action));

    public void ModelCallFailed(string model, string problemType) =>
        _modelFailures.Add(1, new("model", model), new("type", problemType[(problemType.LastIndexOf(':') + 1)..]));

    public void AuthFailed(string reason) => _authFailures.Add(1, new KeyValuePair<string, object?>("reason", reason));

    public void AuditWriteFailed() => _auditWriteFailures.Add(1);

    public void LimitRejected(string kind) => _limitRejections.Add(1, new KeyValuePair<string, object?>("kind", kind));

    long _openStreams;

    /// <summary>SSE streams open now (the gauge's value, also read by the resource monitor).</summary>
    public long OpenStreams => Interlocked.Read(ref _openStreams);

    public void StreamOpened()
    {
        Interlocked.Increment(ref _openStreams);
        _activeStreams.Add(1);
    }

    public void StreamClosed()
    {
        Interlocked.Decrement(ref _openStreams);
        _activeStreams.Add(-1);
    }
}
