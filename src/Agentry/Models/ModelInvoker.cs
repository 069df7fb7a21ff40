using System.Diagnostics;
using System.Text;
using Agentry.Conversations;
using Agentry.Conversations.Context;
using Agentry.Observability;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;

namespace Agentry.Models;

/// <summary>What one model call produced. <see cref="Failure"/> is set when it failed; <see cref="Text"/> is what came before.</summary>
public sealed record ModelAnswer(string Text, IReadOnlyList<FunctionCallContent> Calls, UsageDetails? Usage, string? FinishReason, Exception? Failure)
{
    /// <summary>The turn was cancelled (the client left, the service is stopping) while the model answered.</summary>
    public bool Cancelled { get; init; }

    /// <summary>Some of the text already went to the client as deltas.</summary>
    public bool Shown { get; init; }
}

/// <summary>
/// Calls an agent's model. The provider is always asked to stream, whether or not the client streams, so every call is
/// bounded the same way: the first chunk must arrive within <see cref="ModelResilienceOptions.TimeToFirstToken"/>, later
/// chunks within <see cref="ModelResilienceOptions.StreamIdleTimeout"/> of each other, and the whole call within
/// <see cref="ModelResilienceOptions.TotalTimeout"/>. An answer that ends without a finish reason was cut short and is a
/// failure, never a complete reply. A broken or cut answer is retried when nobody has seen any of it yet.
/// </summary>
/// <remarks>Its clocks are the registered <see cref="TimeProvider"/>'s, so the timeout tests run on a fake clock.</remarks>
public sealed partial class ModelInvoker(IOptions<ModelOptions> options, Security.TokenBudget budget, AgentryTelemetry telemetry, TimeProvider time, ILogger<ModelInvoker> logger)
{
    /// <param name="model">The model to ask instead of the agent's (a cheaper one that writes the conversation's summary).</param>
    public async Task<ModelAnswer> CallAsync(Turn turn, AgentContext context, TurnEvents deltas, CancellationToken cancellationToken, ResolvedModel? model = null)
    {
        // The client's sampling applies to the agent's own answers, not to a summary written by another model.
        var sampling = model is null ? turn.Sampling : null;
        model ??= turn.Model;
        var prompt = new List<ChatMessage>(context.Messages.Count + 1) { context.SystemMessage };
        prompt.AddRange(context.Messages);
        var agentLimit = Lower(turn.Agent.MaxOutputTokens, sampling?.MaxOutputTokens);
        var chatOptions = new ChatOptions
        {
            Temperature = (float?)(sampling?.Temperature ?? turn.Agent.Temperature), TopP = (float?)sampling?.TopP, StopSequences = sampling?.Stop?.ToList(),
            MaxOutputTokens = agentLimit, Tools = context.Tools.Count > 0 ? context.Tools : null,
        };

        // Counted only when a token budget asks for it (reserving before the call, or settling a call whose provider
        // reported no usage): without one, a few thousand tokens of system prompt are not tokenized for nothing.
        int? counted = null;
        int PromptTokens() => counted ??= prompt.Sum(turn.TokensOf) + context.Tools.Sum(turn.TokensOf);
        var maxOutputTokens = Lower(turn.Agent.MaxOutputTokens ?? budget.DefaultMaxOutputTokens, sampling?.MaxOutputTokens)!.Value;

        var limits = options.Value.Resilience;
        var started = time.GetTimestamp();
        using var totalTimer = new CancellationTokenSource(limits.TotalTimeout, time);
        using var total = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, totalTimer.Token);
        var attempts = UpstreamAttempts.Start();
        for (var call = 1; ; call++)
        {
            // The first-token clock starts again for each call: a retry of a long answer that broke off gets its own budget.
            // Every call, a retry included, reserves its budget first and settles it after (Security/TokenBudget.cs).
            var reservation = await budget.ReserveAsync(turn.Caller, PromptTokens, maxOutputTokens, cancellationToken);
            if (reservation is not null) chatOptions.MaxOutputTokens = maxOutputTokens; // what was reserved is the most it may cost
            ModelAnswer? answer = null;
            try
            {
                answer = await StreamAsync(turn, model, prompt, chatOptions, deltas, time.GetTimestamp(), total, cancellationToken);
            }
            finally
            {
                if (reservation is not null) await budget.SettleAsync(reservation, answer is null ? PromptTokens() : Spent(answer, PromptTokens));
            }
            if (answer.Failure is not { } failure) return answer;
            if (!answer.Shown && call <= limits.MaxRetries && IsCutShort(failure) && !total.IsCancellationRequested)
            {
                LogRetryingCutAnswer(model.Name, call);
                continue; // nobody has seen this answer: ask again rather than fail the turn
            }
            Report(model.Name, failure, Math.Max(call, attempts.Count), time.GetElapsedTime(started), turn.TraceId);
            return answer;
        }
    }

    async Task<ModelAnswer> StreamAsync(Turn turn, ResolvedModel model, List<ChatMessage> prompt, ChatOptions chatOptions, TurnEvents deltas,
        long started, CancellationTokenSource total, CancellationToken cancellationToken)
    {
        var limits = options.Value.Resilience;
        var text = new StringBuilder();
        var calls = new List<FunctionCallContent>();
        UsageDetails? usage = null;
        string? finishReason = null;
        var received = false;
        var shown = false;
        Exception? failure = null;
        using var silenceTimer = new CancellationTokenSource(Timeout.InfiniteTimeSpan, time);
        using var silence = CancellationTokenSource.CreateLinkedTokenSource(total.Token, silenceTimer.Token);
        UnstreamedAnswers.ExpectStream(); // for this call's requests only: an async method's flow does not leak to its caller
        var updates = model.Client.GetStreamingResponseAsync(prompt, chatOptions, silence.Token).GetAsyncEnumerator(silence.Token);
        try
        {
            while (true)
            {
                // Until the first chunk the time-to-first-token budget runs (across retries of the request); then the idle limit.
                silenceTimer.CancelAfter(received ? limits.StreamIdleTimeout : Remaining(limits.EffectiveTimeToFirstToken, started));
                try
                {
                    if (!await updates.MoveNextAsync()) break;
                }
                catch (Exception) when (cancellationToken.IsCancellationRequested)
                {
                    return Answer() with { Cancelled = true }; // the client left or the service is stopping
                }
                catch (OperationCanceledException e) when (total.IsCancellationRequested)
                {
                    failure = UpstreamModelException.Timeout($"The model provider's answer took longer than {Seconds(limits.TotalTimeout)} s.", e);
                    break;
                }
                catch (OperationCanceledException e) when (silence.IsCancellationRequested)
                {
                    failure = UpstreamModelException.Timeout(received
                        ? $"The model provider stopped sending its answer for {Seconds(limits.StreamIdleTimeout)} s."
                        : $"The model provider did not start answering within {Seconds(limits.EffectiveTimeToFirstToken)} s.", e);
                    break;
                }
                catch (Polly.Timeout.TimeoutRejectedException e) when (!received)
                {
                    // The HTTP handler's timeouts are derived from the same first-token limit; whichever fires first, it is that limit.
                    failure = UpstreamModelException.Timeout($"The model provider did not start answering within {Seconds(limits.EffectiveTimeToFirstToken)} s.", e);
                    break;
                }
                catch (Exception e)
                {
                    failure = UpstreamModelException.TryClassify(e) ?? e;
                    break;
                }

                received = true;
                var update = updates.Current;
                if (update.FinishReason is { } finish) finishReason = finish.Value;
                foreach (var content in update.Contents)
                {
                    switch (content)
                    {
                        case TextContent { Text.Length: > 0 } delta:
                            text.Append(delta.Text);
                            if (deltas.IsStreaming)
                            {
                                deltas.Emit(TurnEvent.Delta, new TextDelta(turn.Agent.Id, delta.Text));
                                shown = true;
                            }
                            break;
                        case FunctionCallContent call:
                            calls.Add(call);
                            break;
                        case UsageContent used:
                            usage = used.Details;
                            break;
                    }
                }
            }
        }
        finally
        {
            await updates.DisposeAsync();
        }

        // A stream that simply stops (no [DONE], no finish reason) was cut short: never a complete reply.
        failure ??= finishReason is null ? UpstreamModelException.Incomplete() : null;
        return Answer();

        ModelAnswer Answer() => new(text.ToString(), calls, usage, finishReason, failure) { Shown = shown };
    }

    /// <summary>
    /// What the provider reported, or when it reports nothing (some local servers, a broken stream) a count of what was
    /// sent and received. A call that failed before any answer costs nothing: an outage must not use up the budget.
    /// </summary>
    static long Spent(ModelAnswer answer, Func<int> promptTokens)
    {
        var reported = (answer.Usage?.InputTokenCount ?? 0) + (answer.Usage?.OutputTokenCount ?? 0);
        if (reported > 0) return reported;
        if (answer.Failure is not null && answer.Text.Length == 0 && answer.Calls.Count == 0) return 0;
        return promptTokens() + Tokens.Count(answer.Text) + answer.Calls.Sum(call => Tokens.Count(new ChatMessage(ChatRole.Assistant, [call])));
    }

    /// <summary>The lower of two limits, either of which may be unset.</summary>
    static int? Lower(int? a, int? b) => a is null ? b : b is null ? a : Math.Min(a.Value, b.Value);

    /// <summary>A stream that broke or ended early, as opposed to a provider that refused, is slow or unreachable.</summary>
    static bool IsCutShort(Exception failure) => failure is UpstreamModelException { CutShort: true };

    TimeSpan Remaining(TimeSpan budget, long started)
    {
        var left = budget - time.GetElapsedTime(started);
        return left > TimeSpan.Zero ? left : TimeSpan.FromMilliseconds(1);
    }

    static string Seconds(TimeSpan value) => value.TotalSeconds.ToString("0.#", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>One line per failed model call, and a counter: expected failures carry no stack trace; the unexpected do.</summary>
    void Report(string model, Exception failure, int attempts, TimeSpan elapsed, string? traceId)
    {
        if (failure is UpstreamModelException upstream)
        {
            telemetry.ModelCallFailed(model, upstream.Type);
            LogModelCallFailed(model, upstream.Type, upstream.UpstreamStatus, attempts, (long)elapsed.TotalMilliseconds, traceId, upstream.Message);
        }
        else
        {
            telemetry.ModelCallFailed(model, Api.ProblemTypes.Internal);
            LogModelCallCrashed(failure, model, attempts, traceId);
        }
    }

    [LoggerMessage(EventId = 4200, Level = LogLevel.Warning,
        Message = "Model call to {Model} failed: {ProblemType} (upstream status {UpstreamStatus}, {Attempts} attempt(s), {ElapsedMs} ms, trace {TraceId}): {Detail}")]
    partial void LogModelCallFailed(string model, string problemType, int? upstreamStatus, int attempts, long elapsedMs, string? traceId, string detail);

    [LoggerMessage(EventId = 4201, Level = LogLevel.Error, Message = "Model call to {Model} failed unexpectedly ({Attempts} attempt(s), trace {TraceId})")]
    partial void LogModelCallCrashed(Exception exception, string model, int attempts, string? traceId);

    [LoggerMessage(EventId = 4202, Level = LogLevel.Information, Message = "The answer of {Model} was cut short before anyone saw it; asking again (call {Call})")]
    partial void LogRetryingCutAnswer(string model, int call);
}
