using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;
using Agentry.Agents;
using Agentry.Api;
using Agentry.Approvals;
using Agentry.Conversations.Context;
using Agentry.Models;
using Agentry.Observability;
using Agentry.Rules;

namespace Agentry.Conversations;

/// <summary>
/// Runs a turn as a short sequence of named steps, each in its own feature:
/// load (<see cref="TurnStore"/>) → input rules (<see cref="TurnRules"/>) → routing and handoffs (<see cref="Handoffs"/>) →
/// the summary of what fell out of the history window (<see cref="ConversationSummarizer"/>) → the agent loop (<see cref="AgentLoop"/>: context assembly, model call, tools, output rules, approvals) or a workflow of
/// agents (<see cref="WorkflowRunner"/>) → commit (<see cref="TurnStore"/>) → one outcome report (<see cref="TurnReporter"/>).
/// A turn that fails before producing anything stores nothing (retry-safe); one cut short by a failure, the client leaving
/// or the service stopping stores what it produced, marked interrupted, with the reason. Streaming and non-streaming share it.
/// </summary>
public sealed partial class TurnRunner(
    TurnStore store, TurnRules rules, Handoffs handoffs, ConversationSummarizer summarizer, WorkflowRunner workflows, AgentLoop agentLoop, ApprovalFlow approvals,
    TurnReporter reporter, Webhooks.WebhookSender webhooks, ILogger<TurnRunner> logger)
{
    public async Task<TurnDto> RunAsync(TurnRequest request, CancellationToken cancellationToken)
    {
        using var turn = await store.BeginAsync(request, cancellationToken);
        return await ExecuteAsync(turn, TurnEvents.None, ct => RunUserTurnAsync(turn, TurnEvents.None, ct), cancellationToken);
    }

    /// <summary>
    /// The turn's events as they happen. A turn that cannot start (unknown or busy conversation) or fails before producing
    /// anything throws from the first read, so the endpoint still answers with a status code and a problem.
    /// </summary>
    public async IAsyncEnumerable<TurnEvent> StreamAsync(TurnRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var turn = await store.BeginAsync(request, cancellationToken);
        var events = TurnEvents.Streaming();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var run = RunStreamingAsync(turn, events, stop.Token);
        var reader = events.ReadAllAsync().GetAsyncEnumerator(CancellationToken.None);
        try
        {
            for (var started = false; ; started = true)
            {
                TurnEvent? next;
                Exception? failure = null;
                try
                {
                    next = await reader.MoveNextAsync() ? reader.Current : null;
                }
                catch (Exception e) when (started)
                {
                    next = null;
                    failure = e;
                }
                if (failure is not null)
                {
                    // The response has begun, so a status code can no longer say it: the stream ends with an error event.
                    yield return ErrorEvent(failure, turn.TraceId);
                    break;
                }
                if (next is null) break;
                yield return next;
            }
        }
        finally
        {
            await stop.CancelAsync(); // the reader went away: cut the turn short, it stores what it has
            await run;
            await reader.DisposeAsync();
        }
    }

    /// <summary>
    /// Continues the turn that stopped at <paramref name="approval"/>: the decision is claimed (exactly one decision wins),
    /// the tool runs (or is refused) and the agent answers.
    /// </summary>
    public async Task<TurnDto> ResumeAsync(Approval approval, ApprovalVerdict verdict, CancellationToken cancellationToken)
    {
        if (!await approvals.ClaimAsync(approval, verdict, cancellationToken))
            throw new ApiProblemException(409, ProblemTypes.ApprovalDecided, "Approval already decided", $"Approval '{approval.Id}' was already {approval.Status}.");
        Turn turn;
        try
        {
            turn = await store.BeginResumeAsync(approval, verdict.DecidedBy, cancellationToken);
        }
        catch
        {
            await approvals.ReleaseAsync(approval); // nothing ran: the decision can be made again
            throw;
        }
        using (turn)
        {
            return await ExecuteAsync(turn, TurnEvents.None, async ct =>
            {
                var decided = await approvals.ResumeAsync(turn, approval, verdict);                             // Approvals/: the held call runs or is refused
                return await agentLoop.RunAsync(turn, ContextRequest.For(turn), decided, TurnEvents.None, ct); // the agent answers with its result
            }, cancellationToken);
        }
    }

    /// <summary>The steps of a user's message, in order. Each returns when the turn moves on or has ended.</summary>
    async Task<string> RunUserTurnAsync(Turn turn, TurnEvents events, CancellationToken cancellationToken)
    {
        // The results of the client's own functions: the agent reads them and answers (no new message for the rules to check).
        if (turn.ClientToolRound is not null)
        {
            await rules.CheckClientToolResultsAsync(turn, events, cancellationToken);                          // checkToolResults rules
            return await agentLoop.RunAsync(turn, ContextRequest.For(turn), turn.ClientToolRound, events, cancellationToken);
        }
        var input = await rules.ApplyInputAsync(turn, includeGlobal: true, events, cancellationToken); // redact, block, escalate
        await handoffs.RouteAsync(turn, input, events, cancellationToken);                            // escalation, semantic routing
        if (turn.Ended) return turn.End!.FinishReason;                                                 // a rule blocked the message
        await summarizer.FoldAsync(turn, cancellationToken);                                           // older messages into the summary
        return turn.Agent.Workflow is { } workflow
            ? await workflows.RunAsync(turn, workflow, events, cancellationToken)                      // agents in sequence or as a group
            : await agentLoop.RunAsync(turn, events, cancellationToken);                               // context, model, tools, output rules
    }

    async Task RunStreamingAsync(Turn turn, TurnEvents events, CancellationToken cancellationToken)
    {
        try
        {
            await ExecuteAsync(turn, events, ct => RunUserTurnAsync(turn, events, ct), cancellationToken);
            events.Complete();
        }
        catch (Exception e)
        {
            events.Complete(e); // the reader rethrows it: a problem response if nothing was sent yet
        }
        finally
        {
            turn.Dispose();
        }
    }

    async Task<TurnDto> ExecuteAsync(Turn turn, TurnEvents events, Func<CancellationToken, Task<string>> steps, CancellationToken requestAborted)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(requestAborted, turn.ServiceStopping);
        using var activity = AgentryTelemetry.Source.StartActivity("agentry.turn");
        activity?.SetTag("agentry.conversation.id", turn.Conversation.Id).SetTag("agentry.agent.id", turn.Agent.Id).SetTag("agentry.stream", events.IsStreaming);
        try
        {
            turn.Finish(await steps(stop.Token));
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            turn.Interrupt(turn.ServiceStopping.IsCancellationRequested ? TurnEnd.Shutdown : TurnEnd.ClientDisconnected);
        }
        catch (Exception e)
        {
            turn.Fail(e);
        }

        var end = turn.End!;
        Exception? storeFailure = null;
        try
        {
            TurnDto? stored;
            try
            {
                stored = await store.CommitAsync(turn); // the one writer: messages, approval, ledger, audit, Idempotency-Key
            }
            catch (Exception e) when (e is not ApiProblemException)
            {
                storeFailure = e;
                LogNotStored(e, turn.Conversation.Id, end.FinishReason);
                throw;
            }
            // Nothing happened that needs keeping: a plain problem, and the client may simply retry.
            if (stored is null) ExceptionDispatchInfo.Throw(end.Failure!);
            // A person must decide: whoever watches the approvals queue is told, whichever door the turn came through.
            if (end.PendingApproval is { } held && !turn.IsEval)
                webhooks.Announce(Webhooks.WebhookEvents.ApprovalPending, new
                {
                    approvalId = held.Id, conversationId = held.ConversationId, agentId = held.AgentId, tool = held.ToolName, rule = held.RuleId,
                });
            if (end.Failure is { } failure) return Fail(turn, failure, stored, events);
            if (end.FinishReason == TurnEnd.Shutdown) return Fail(turn, ShuttingDown(), stored, events);
            requestAborted.ThrowIfCancellationRequested();
            foreach (var message in stored.Messages.Where(m => m.Role == MessageRoles.Assistant))
                events.Emit(TurnEvent.MessageCompleted, message);
            events.Emit(TurnEvent.TurnCompleted, stored);
            return stored;
        }
        finally
        {
            reporter.Report(Outcome(turn, activity, storeFailure));
        }
    }

    /// <summary>A turn that failed after producing output: stored as interrupted; a stream ends with an error event, a plain request with the problem.</summary>
    TurnDto Fail(Turn turn, Exception failure, TurnDto stored, TurnEvents events)
    {
        if (!events.IsStreaming) ExceptionDispatchInfo.Throw(failure); // the exception handler answers (and logs the unexpected)
        // No exception handler sees a failure told as an event: an unexpected one is logged here, with its stack trace.
        if (failure is not (UpstreamModelException or ApiProblemException)) LogTurnFailed(failure, turn.Conversation.Id);
        else LogTurnInterrupted(turn.Conversation.Id, turn.End!.FinishReason);
        var error = ErrorEvent(failure, turn.TraceId);
        events.Emit(error.Type, error.Data);
        return stored;
    }

    static TurnEvent ErrorEvent(Exception failure, string? traceId)
    {
        var problem = ApiExceptionHandler.Describe(failure, out _);
        problem.Extensions["traceId"] = Activity.Current?.TraceId.ToString() ?? traceId;
        return new TurnEvent(TurnEvent.Error, problem);
    }

    static ApiProblemException ShuttingDown() =>
        new(503, ProblemTypes.ShuttingDown, "Service shutting down",
            "The service is restarting; what the agent said so far is stored as interrupted. Send the message again in a moment.")
        { RetryAfter = TimeSpan.FromSeconds(5) };

    static TurnOutcome Outcome(Turn turn, Activity? activity, Exception? storeFailure)
    {
        var end = turn.End!;
        if (storeFailure is not null) end = end with { Failure = storeFailure };
        var status = storeFailure is not null ? TurnOutcome.Failed
            : end.Failure is not null ? turn.ProducedAnything ? TurnOutcome.Interrupted : TurnOutcome.Failed
            : end.IsInterruption ? TurnOutcome.Interrupted
            : end.PendingApproval is not null ? TurnOutcome.PendingApproval
            : TurnOutcome.Completed;
        return new TurnOutcome(turn.Conversation.Id, turn.ConversationAgentId, turn.Caller.KeyId, turn.Model.Name, status, end.FinishReason,
            turn.Elapsed, turn.Usage, end.Failure, turn.TraceId, activity)
        { IsEval = turn.IsEval };
    }

    [LoggerMessage(EventId = 3000, Level = LogLevel.Debug, Message = "Turn in {ConversationId} stored as interrupted ({Reason})")]
    partial void LogTurnInterrupted(string conversationId, string reason);

    [LoggerMessage(EventId = 3001, Level = LogLevel.Error, Message = "Could not store the turn of {ConversationId} (it ended: {Reason})")]
    partial void LogNotStored(Exception exception, string conversationId, string reason);

    [LoggerMessage(EventId = 3002, Level = LogLevel.Error, Message = "Turn in {ConversationId} failed unexpectedly after producing output; stored as interrupted")]
    partial void LogTurnFailed(Exception exception, string conversationId);
}
