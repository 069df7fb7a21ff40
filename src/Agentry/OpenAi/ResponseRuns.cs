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
/// Runs responses: each one's turn runs detached from the request with services of its own (and the request's place in
/// its key's concurrency limit), its events go to the event log (<c>response:{id}</c>, resumable with starting_after),
/// and a stored response's row follows its status. A running response holds a lease its instance renews; a cancel
/// request reaches it through that row from any instance; one whose instance died is marked failed
/// (<see cref="ExpireIfOrphanedAsync"/>, on a poll or by <see cref="OrphanedResponses"/>).
/// </summary>
public sealed partial class ResponseRuns(
    IServiceScopeFactory scopes, IEventLog log, DetachedRuns detached, Webhooks.WebhookSender webhooks, IOptions<ResponsesOptions> options,
    IOptions<Microsoft.AspNetCore.Http.Json.JsonOptions> json, TimeProvider time, ILogger<ResponseRuns> logger)
{
    readonly ConcurrentDictionary<string, CancellationTokenSource> _running = new();

    public static string Stream(string responseId) => $"response:{responseId}";

    /// <summary>
    /// Starts the response. Unless it runs in the background, the turn's first event is awaited here, so a turn that
    /// cannot start (busy conversation, spent budget) is the request's error and leaves no response behind.
    /// </summary>
    public async Task<Task<ResponseOutcome>> StartAsync(ResponseObject response, string request, TurnRequest turn, HttpContext http, CancellationToken cancelWhen)
    {
        var events = new ResponseEvents(response, json.Value.SerializerOptions);
        if (response.Store) await InsertAsync(response, request, turn);
        var run = new DetachedTurn(http, cancelWhen);
        var cancel = CancellationTokenSource.CreateLinkedTokenSource(run.Token);
        _running[response.Id] = cancel;
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
                    if (problem.Status >= 500 && e is not ApiProblemException) LogRunFailed(e, response.Id);
                    var error = OpenAiErrors.From(problem).Error;
                    await AppendAsync(stream, events.End(ResponseObject.Failed, new ResponseError(error.Code, error.Message)));
                }
            }
            await renewals.CancelAsync();
            await lease;
            // Every stream ends with a final event, whatever happened.
            await AppendAsync(stream, events.End(ResponseObject.Failed, new ResponseError("interrupted", "The response ended before it finished.")));
            if (response.Store && !await SaveAsync(events.Current, finished: true)) return; // another instance already marked it failed and said so
            // Nobody waits on a background response: its end is announced (ids and status only; the text is read with a key).
            if (response.Background) Announce(response.Id, events.Current);
        }
        catch (Exception e)
        {
            LogFinishFailed(e, response.Id); // the log or the database is away: the lease runs out and the response is reported failed
        }
        finally
        {
            await renewals.CancelAsync();
            await Quietly(turnEvents.DisposeAsync);
            await Quietly(run.DisposeAsync);
            Forget(response.Id);
            finished.TrySetResult(new ResponseOutcome(events.Current, problem));
        }
    }

    static async Task Quietly(Func<ValueTask> dispose)
    {
        try
        {
            await dispose();
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or InvalidOperationException)
        {
        }
    }

    void Announce(string responseId, ResponseObject response) =>
        webhooks.Announce("response." + response.Status, new { id = responseId, status = response.Status, conversationId = response.Conversation?.Id, error = response.Error });

    async Task<bool> IsCancelledAsync(ResponseObject response) =>
        _running.TryGetValue(response.Id, out var cancel) && cancel.IsCancellationRequested && await CancelRequestedAsync(response);

    /// <summary>Cancels a response running here at once; one on another instance sees the request when it renews its lease.</summary>
    public async Task<bool> RequestCancelAsync(string responseId)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<AgentryDbContext>();
        var marked = await db.Responses.Where(r => r.Id == responseId && (r.Status == ResponseObject.Queued || r.Status == ResponseObject.InProgress))
            .ExecuteUpdateAsync(s => s.SetProperty(r => r.CancelRequested, true));
        if (_running.TryGetValue(responseId, out var cancel))
        {
            try
            {
                await cancel.CancelAsync();
            }
            catch (ObjectDisposedException)
            {
                // it ended meanwhile
            }
        }
        return marked > 0;
    }

    /// <summary>
    /// A response still marked running whose lease ran out: its instance stopped. Marked failed (only if nobody renewed
    /// it meanwhile), its stream ended with response.failed, and a background one announced, so nobody waits for ever.
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
        if (updated == 0) return false;
        LogOrphaned(row.Id);
        // A reader following the stream on another instance gets its end.
        var stream = Stream(row.Id);
        var next = await log.LastSequenceAsync(stream) + 1;
        var final = ResponseEvents.Json("response.failed", next - 1, new() { ["response"] = body });
        await log.AppendAsync(stream, new LoggedEvent(next, "response.failed", final, Last: true));
        if (row.Background) Announce(row.Id, body);
        return true;
    }

    async Task RenewLeaseAsync(string responseId, CancellationToken stop)
    {
        var every = options.Value.LeaseDuration / 3;
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(every, time, stop);
                await using var scope = scopes.CreateAsyncScope();
                var db = scope.ServiceProvider.GetRequiredService<AgentryDbContext>();
                var until = time.GetUtcNow() + options.Value.LeaseDuration;
                await db.Responses.Where(r => r.Id == responseId && r.Status != ResponseObject.Failed)
                    .ExecuteUpdateAsync(s => s.SetProperty(r => r.LeaseExpiresAt, until), CancellationToken.None);
                // A cancel asked on another instance arrives here.
                if (await db.Responses.AnyAsync(r => r.Id == responseId && r.CancelRequested, CancellationToken.None)
                    && _running.TryGetValue(responseId, out var cancel)) await cancel.CancelAsync();
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
            }
            catch (Exception e)
            {
                LogLeaseFailed(e, responseId); // tried again at the next renewal; if the database stays away the lease runs out
            }
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
            Id = response.Id, OwnerKeyId = turn.Caller.KeyId, ConversationId = turn.ConversationId ?? turn.NewConversationId!, UserId = turn.UserId,
            Status = response.Status, Background = response.Background, Request = request, Body = JsonSerializer.Serialize(response, OpenAiErrors.Json),
            LeaseExpiresAt = now + options.Value.LeaseDuration, CreatedAt = now, UpdatedAt = now,
        });
        await db.SaveChangesAsync();
    }

    /// <summary>Writes the response's status and body; false when the row was already marked failed elsewhere (its lease ran out), which stands.</summary>
    async Task<bool> SaveAsync(ResponseObject response, bool finished = false)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<AgentryDbContext>();
        var now = time.GetUtcNow();
        var body = JsonSerializer.Serialize(response, OpenAiErrors.Json);
        var lease = finished ? (DateTimeOffset?)null : now + options.Value.LeaseDuration;
        return await db.Responses.Where(r => r.Id == response.Id && r.Status != ResponseObject.Failed)
            .ExecuteUpdateAsync(s => s.SetProperty(r => r.Status, response.Status).SetProperty(r => r.Body, body).SetProperty(r => r.UpdatedAt, now)
                .SetProperty(r => r.LeaseExpiresAt, lease), CancellationToken.None) > 0;
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

    [LoggerMessage(EventId = 3202, Level = LogLevel.Error, Message = "Response {ResponseId} could not be finished (its stream or row); its lease will run out and it will be reported failed")]
    partial void LogFinishFailed(Exception exception, string responseId);

    [LoggerMessage(EventId = 3203, Level = LogLevel.Error, Message = "Response {ResponseId} failed unexpectedly")]
    partial void LogRunFailed(Exception exception, string responseId);
}
