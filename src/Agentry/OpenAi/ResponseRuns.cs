using System.Collections.Concurrent;
using System.Text.Json;
using Agentry.Api;
using Agentry.Conversations;
using Agentry.Data;
using Agentry.Streaming;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Agentry.OpenAi;

/// <summary>How a response ended, for a caller that waits for it.</summary>
public sealed record ResponseOutcome(ResponseObject Response, ProblemDetails? Problem);

/// <summary>
/// Runs responses: each one's turn runs detached from the request with services of its own, its events go to the
/// event log (<c>response:{id}</c>, resumable with starting_after), and a stored response's row follows its status. A
/// running response holds a lease its instance renews; a cancel request reaches it through that row from any instance.
/// </summary>
public sealed partial class ResponseRuns(
    IServiceScopeFactory scopes, IEventLog log, DetachedRuns detached, Webhooks.WebhookSender webhooks, IOptions<ResponsesOptions> options, IOptions<Microsoft.AspNetCore.Http.Json.JsonOptions> json, TimeProvider time,
    ILogger<ResponseRuns> logger)
{
    readonly ConcurrentDictionary<string, CancellationTokenSource> _running = new();

    public static string Stream(string responseId) => $"response:{responseId}";

    /// <summary>
    /// Starts the response. Unless it runs in the background, the turn's first event is awaited here, so a turn that
    /// cannot start (busy conversation, spent budget) is the request's error and leaves no response behind.
    /// </summary>
    public async Task<Task<ResponseOutcome>> StartAsync(ResponseObject response, string request, TurnRequest turn, IServiceProvider requestServices,
        CancellationToken cancelWhen)
    {
        var events = new ResponseEvents(response, json.Value.SerializerOptions);
        if (response.Store) await InsertAsync(response, request, turn);
        var run = new DetachedTurn(requestServices, cancelWhen);
        _running[response.Id] = CancellationTokenSource.CreateLinkedTokenSource(run.Token);
        var cancel = _running[response.Id];
        var turnEvents = run.Runner.StreamAsync(turn, cancel.Token).GetAsyncEnumerator(cancel.Token);
        var any = true;
        if (!response.Background)
        {
            try
            {
                any = await turnEvents.MoveNextAsync();
            }
            catch
            {
                await turnEvents.DisposeAsync();
                await run.DisposeAsync();
                Forget(response.Id);
                if (response.Store) await DeleteAsync(response.Id); // it never started: the client's error, not a response
                throw;
            }
        }
        var finished = new TaskCompletionSource<ResponseOutcome>(TaskCreationOptions.RunContinuationsAsynchronously);
        detached.Start(() => PumpAsync(response, events, turnEvents, any, first: !response.Background, run, finished));
        return finished.Task;
    }

    async Task PumpAsync(ResponseObject response, ResponseEvents events, IAsyncEnumerator<TurnEvent> turnEvents, bool any, bool first, DetachedTurn run,
        TaskCompletionSource<ResponseOutcome> finished)
    {
        var stream = Stream(response.Id);
        ProblemDetails? problem = null;
        using var renewals = new CancellationTokenSource();
        var lease = response.Store ? RenewLeaseAsync(response.Id, renewals.Token) : Task.CompletedTask;
        try
        {
            await AppendAsync(stream, events.Start());
            if (response.Store) await SaveAsync(events.Current);
            var more = first ? any : await turnEvents.MoveNextAsync();
            for (; more; more = await turnEvents.MoveNextAsync())
            {
                // A turn stopped by POST …/cancel ends in an error event (it was cut short): the response says cancelled.
                if (turnEvents.Current.Type == TurnEvent.Error && await IsCancelledAsync(response))
                {
                    await AppendAsync(stream, events.End(ResponseObject.Cancelled, null));
                    continue;
                }
                if (turnEvents.Current.Data is ProblemDetails failed) problem = failed;
                await AppendAsync(stream, events.On(turnEvents.Current));
            }
        }
        catch (Exception e)
        {
            // A background turn that could not start (busy, spent budget, cancelled first), or a failure the runner could not tell.
            if (await IsCancelledAsync(response)) await AppendAsync(stream, events.End(ResponseObject.Cancelled, null));
            else
            {
                problem = ApiExceptionHandler.Describe(e, out _);
                var error = OpenAiErrors.From(problem).Error;
                await AppendAsync(stream, events.End(ResponseObject.Failed, new ResponseError(error.Code, error.Message)));
            }
        }
        finally
        {
            await renewals.CancelAsync();
            await lease;
            // Every stream ends with a final event, whatever happened.
            await AppendAsync(stream, events.End(ResponseObject.Failed, new ResponseError("interrupted", "The response ended before it finished.")));
            if (response.Store) await SaveAsync(events.Current, finished: true);
            // Nobody waits on a background response: its end is announced (ids and status only; the text is read with a key).
            if (response.Background)
                webhooks.Announce("response." + events.Current.Status, new
                {
                    id = response.Id, status = events.Current.Status, conversationId = events.Current.Conversation?.Id, error = events.Current.Error,
                });
            await turnEvents.DisposeAsync();
            await run.DisposeAsync();
            Forget(response.Id);
            finished.TrySetResult(new ResponseOutcome(events.Current, problem));
        }
    }

    async Task<bool> IsCancelledAsync(ResponseObject response) =>
        _running.TryGetValue(response.Id, out var cancel) && cancel.IsCancellationRequested && await CancelRequestedAsync(response);

    /// <summary>Cancels a response running here at once; one on another instance sees the request when it renews its lease.</summary>
    public async Task<bool> RequestCancelAsync(string responseId)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<AgentryDbContext>();
        var marked = await db.Responses.Where(r => r.Id == responseId && (r.Status == ResponseObject.Queued || r.Status == ResponseObject.InProgress))
            .ExecuteUpdateAsync(s => s.SetProperty(r => r.CancelRequested, true));
        if (_running.TryGetValue(responseId, out var cancel)) await cancel.CancelAsync();
        return marked > 0;
    }

    /// <summary>
    /// A response still marked running whose lease ran out: its instance stopped. Marked failed (only if nobody renewed
    /// it meanwhile), so a poll never waits for ever.
    /// </summary>
    public async Task<bool> ExpireIfOrphanedAsync(AgentryDbContext db, StoredResponse row)
    {
        if (row.Status is not (ResponseObject.Queued or ResponseObject.InProgress) || row.LeaseExpiresAt is not { } expires || expires > time.GetUtcNow()) return false;
        var body = JsonSerializer.Deserialize<ResponseObject>(row.Body, OpenAiErrors.Json)! with
        {
            Status = ResponseObject.Failed,
            Error = new ResponseError("instance-lost", "The instance running this response stopped before it finished. What the agent produced is in the conversation; send the request again."),
        };
        var now = time.GetUtcNow();
        var updated = await db.Responses.Where(r => r.Id == row.Id && r.LeaseExpiresAt == expires && r.Status == row.Status)
            .ExecuteUpdateAsync(s => s.SetProperty(r => r.Status, ResponseObject.Failed).SetProperty(r => r.Body, JsonSerializer.Serialize(body, OpenAiErrors.Json))
                .SetProperty(r => r.LeaseExpiresAt, (DateTimeOffset?)null).SetProperty(r => r.UpdatedAt, now));
        if (updated > 0) LogOrphaned(row.Id);
        return updated > 0;
    }

    async Task RenewLeaseAsync(string responseId, CancellationToken stop)
    {
        var every = options.Value.LeaseDuration / 3;
        try
        {
            while (true)
            {
                await Task.Delay(every, time, stop);
                await using var scope = scopes.CreateAsyncScope();
                var db = scope.ServiceProvider.GetRequiredService<AgentryDbContext>();
                var until = time.GetUtcNow() + options.Value.LeaseDuration;
                await db.Responses.Where(r => r.Id == responseId).ExecuteUpdateAsync(s => s.SetProperty(r => r.LeaseExpiresAt, until), CancellationToken.None);
                // A cancel asked on another instance arrives here.
                if (await db.Responses.AnyAsync(r => r.Id == responseId && r.CancelRequested, CancellationToken.None)
                    && _running.TryGetValue(responseId, out var cancel)) await cancel.CancelAsync();
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            LogLeaseFailed(e, responseId); // the lease runs out; the response is reported failed rather than stuck
        }
    }

    async Task<bool> CancelRequestedAsync(ResponseObject response)
    {
        if (!response.Store) return true; // only a cancel could stop an unstored one early, and it has no row to say so
        await using var scope = scopes.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<AgentryDbContext>().Responses.AnyAsync(r => r.Id == response.Id && r.CancelRequested);
    }

    async Task AppendAsync(string stream, IReadOnlyList<ResponseEvent> events)
    {
        // The log counts from 1, a response's sequence_number from 0; the response's final event ends the stream.
        foreach (var item in events)
            await log.AppendAsync(stream, new LoggedEvent(item.Sequence + 1, item.Type, item.Data, Last: ResponseEvents.IsFinal(item.Type)));
    }

    async Task InsertAsync(ResponseObject response, string request, TurnRequest turn)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<AgentryDbContext>();
        var now = time.GetUtcNow();
        db.Responses.Add(new StoredResponse
        {
            Id = response.Id, OwnerKeyId = turn.Caller.KeyId, ConversationId = turn.ConversationId ?? turn.NewConversationId!, Status = response.Status,
            Background = response.Background, Request = request, Body = JsonSerializer.Serialize(response, OpenAiErrors.Json),
            LeaseExpiresAt = now + options.Value.LeaseDuration, CreatedAt = now, UpdatedAt = now,
        });
        await db.SaveChangesAsync();
    }

    async Task SaveAsync(ResponseObject response, bool finished = false)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<AgentryDbContext>();
        var now = time.GetUtcNow();
        var body = JsonSerializer.Serialize(response, OpenAiErrors.Json);
        var lease = finished ? (DateTimeOffset?)null : now + options.Value.LeaseDuration;
        // A row already marked failed by another instance (its lease ran out while this one was away) keeps that verdict.
        await db.Responses.Where(r => r.Id == response.Id && r.Status != ResponseObject.Failed)
            .ExecuteUpdateAsync(s => s.SetProperty(r => r.Status, response.Status).SetProperty(r => r.Body, body).SetProperty(r => r.UpdatedAt, now)
                .SetProperty(r => r.LeaseExpiresAt, lease), CancellationToken.None);
    }

    async Task DeleteAsync(string responseId)
    {
        await using var scope = scopes.CreateAsyncScope();
        await scope.ServiceProvider.GetRequiredService<AgentryDbContext>().Responses.Where(r => r.Id == responseId).ExecuteDeleteAsync();
    }

    void Forget(string responseId)
    {
        if (_running.TryRemove(responseId, out var cancel)) cancel.Dispose();
    }

    [LoggerMessage(EventId = 3200, Level = LogLevel.Warning, Message = "Response {ResponseId} was still running on an instance that stopped renewing it; marked failed")]
    partial void LogOrphaned(string responseId);

    [LoggerMessage(EventId = 3201, Level = LogLevel.Warning, Message = "Could not renew the lease of response {ResponseId}")]
    partial void LogLeaseFailed(Exception exception, string responseId);
}
