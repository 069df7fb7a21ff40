using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Agentry.Agents;
using Agentry.Api;
using Agentry.Data;
using Agentry.Security;
using Agentry.Streaming;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Agentry.OpenAi;

/// <summary>
/// The Responses API: a response is a turn of an agent, stored (default) so it can be read, continued with
/// previous_response_id, resumed as a stream (starting_after) and, when it runs in the background, polled and cancelled
/// from any instance.
/// </summary>
public static class ResponsesApi
{
    public const string IdPrefix = "resp";

    public static void MapResponsesApi(this RouteGroupBuilder group)
    {
        group.MapPost("/responses", Create).Validated().WithName("CreateResponse")
            .Produces<ResponseObject>(StatusCodes.Status200OK, "application/json", "text/event-stream")
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict).ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status422UnprocessableEntity).ProducesProblem(StatusCodes.Status502BadGateway)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable).ProducesProblem(StatusCodes.Status504GatewayTimeout)
            .WithSummary("OpenAI Responses with an agent as the model: stored by default, continued with previous_response_id or conversation, streamed with typed events, or run in the background.");
        group.MapGet("/responses/{responseId}", Get).WithName("GetResponse")
            .Produces<ResponseObject>(StatusCodes.Status200OK, "application/json", "text/event-stream").ProducesProblem(StatusCodes.Status404NotFound)
            .WithSummary("A stored response (a background one as it runs); with stream=true its events after starting_after, then the rest live.");
        group.MapDelete("/responses/{responseId}", Delete).WithName("DeleteResponse").ProducesProblem(StatusCodes.Status404NotFound)
            .WithSummary("Delete a stored response (a running one is cancelled first); its conversation stays.");
        group.MapPost("/responses/{responseId}/cancel", Cancel).WithName("CancelResponse").ProducesProblem(StatusCodes.Status404NotFound)
            .WithSummary("Cancel a background response: what its agent produced so far is kept in the conversation, marked interrupted.");
        group.MapGet("/responses/{responseId}/input_items", InputItems).WithName("ListResponseInputItems").ProducesProblem(StatusCodes.Status404NotFound)
            .WithSummary("What the client sent for a response, as input items.");
    }

    static async Task<IResult> Create(CreateResponseRequest request, HttpContext http, AgentCatalog agents, ResponseRuns runs, AgentryDbContext db,
        IOptions<SecurityOptions> security, IOptions<StreamingOptions> streaming, TimeProvider time, CancellationToken ct)
    {
        var caller = http.GetCaller() ?? throw new InvalidOperationException("A turn endpoint was reached without an authenticated caller.");
        var agent = (await agents.FindAsync(request.Model, ct))?.Definition ?? throw Problems.AgentNotFound(request.Model);
        var conversationId = request.ConversationId(out _);
        if (request.PreviousResponseId is { } previous)
            conversationId = (await Visible(db, caller, security.Value).Where(r => r.Id == previous).Select(r => r.ConversationId).FirstOrDefaultAsync(ct))
                ?? throw NotFound(previous);
        var toolsOff = request.ToolChoice is { ValueKind: JsonValueKind.String } choice && choice.GetString() == "none";
        var input = new ChatCompletionTurn.ClientInput(request.Messages(out _), request.Instructions,
            new Models.SamplingSettings(request.Temperature, request.TopP, request.MaxOutputTokens), request.Tools?.Select(t => t.AsFunction()).ToList() ?? [], toolsOff,
            request.User);
        var turn = ChatCompletionTurn.Request(input, agent, conversationId, caller, System.Diagnostics.Activity.Current?.TraceId.ToString() ?? http.TraceIdentifier);
        var conversation = turn.ConversationId ?? turn.NewConversationId!;
        http.Response.Headers[OpenAiApi.ConversationHeader] = conversation;

        var background = request.Background == true;
        var response = new ResponseObject(Ids.New(IdPrefix), "response", time.GetUtcNow().ToUnixTimeSeconds(), background ? ResponseObject.Queued : ResponseObject.InProgress,
            background, request.Model, [], null, null, null, request.Instructions, request.Metadata ?? [], request.PreviousResponseId, request.Stored, true,
            toolsOff ? "none" : "auto", request.Tools?.Select(t => JsonSerializer.SerializeToElement(t, OpenAiErrors.Json)).ToList() ?? [], request.Temperature,
            request.TopP, request.MaxOutputTokens, new ResponseConversation(conversation), null);
        // A background response runs whatever happens to its client; a streamed one as a native stream does; a plain one
        // stops when its client leaves.
        var cancelWhen = background ? CancellationToken.None : request.Stream == true ? (streaming.Value.CancelOnDisconnect ? ct : CancellationToken.None) : ct;
        var finished = await runs.StartAsync(response, JsonSerializer.Serialize(request, OpenAiErrors.Json), turn, http, cancelWhen);
        if (background && request.Stream != true) return TypedResults.Ok(response);
        if (request.Stream == true) return TypedResults.ServerSentEvents(Events(http.RequestServices.GetRequiredService<IEventLog>(), response.Id, -1, ct));
        var outcome = await finished.WaitAsync(ct);
        // A plain request that failed is an error, as the same failure is on /v1/chat; the stored response says so too.
        if (outcome.Problem is { } problem && outcome.Response.Status == ResponseObject.Failed)
            throw new ApiProblemException(problem.Status ?? 500, problem.Type ?? ProblemTypes.Internal, problem.Title ?? "Failed", problem.Detail ?? "");
        return TypedResults.Ok(outcome.Response);
    }

    static async Task<Results<Ok<ResponseObject>, ServerSentEventsResult<string>, ProblemHttpResult>> Get(
        string responseId, bool? stream, long? starting_after, HttpContext http, AgentryDbContext db, ResponseRuns runs, IEventLog log,
        IOptions<SecurityOptions> security, CancellationToken ct)
    {
        var row = await FindAsync(db, http, security.Value, responseId, ct);
        if (row is null) return NotFound(responseId).ToResult();
        if (stream == true)
        {
            if (!await log.ExistsAsync(ResponseRuns.Stream(responseId)))
                return TypedResults.Problem(statusCode: 404, type: ProblemTypes.NotFound, title: "Stream not kept",
                    detail: $"The events of '{responseId}' are no longer kept (Streaming:ResumeWindow); GET it without stream for the result.");
            return TypedResults.ServerSentEvents(Events(log, responseId, starting_after ?? -1, ct));
        }
        if (await runs.ExpireIfOrphanedAsync(db, row)) row = await FindAsync(db, http, security.Value, responseId, ct);
        return TypedResults.Ok(Body(row!));
    }

    static async Task<Results<Ok<ResponseDeleted>, ProblemHttpResult>> Delete(
        string responseId, HttpContext http, AgentryDbContext db, ResponseRuns runs, IOptions<SecurityOptions> security, CancellationToken ct)
    {
        if (await FindAsync(db, http, security.Value, responseId, ct) is null) return NotFound(responseId).ToResult();
        await runs.RequestCancelAsync(responseId);
        await db.Responses.Where(r => r.Id == responseId).ExecuteDeleteAsync(ct);
        return TypedResults.Ok(new ResponseDeleted(responseId, "response.deleted", true));
    }

    static async Task<Results<Ok<ResponseObject>, ProblemHttpResult>> Cancel(
        string responseId, HttpContext http, AgentryDbContext db, ResponseRuns runs, IOptions<SecurityOptions> security, IOptions<ResponsesOptions> options,
        TimeProvider time, CancellationToken ct)
    {
        var row = await FindAsync(db, http, security.Value, responseId, ct);
        if (row is null) return NotFound(responseId).ToResult();
        if (!row.Background)
            return TypedResults.Problem(statusCode: 400, type: ProblemTypes.BadRequest, title: "Not a background response",
                detail: "Only a response created with background=true can be cancelled; a plain one ends when its client leaves.");
        if (await runs.RequestCancelAsync(responseId))
        {
            // The instance running it stops it now (this one) or at its next lease renewal (another one); the answer waits
            // for that, up to 30 s, and otherwise says it is still in progress (the cancel stands).
            var wait = options.Value.LeaseDuration / 3 + TimeSpan.FromSeconds(5);
            var deadline = time.GetUtcNow() + (wait < TimeSpan.FromSeconds(30) ? wait : TimeSpan.FromSeconds(30));
            while (time.GetUtcNow() < deadline && (row = await FindAsync(db, http, security.Value, responseId, ct)) is { Status: ResponseObject.Queued or ResponseObject.InProgress })
            {
                if (await runs.ExpireIfOrphanedAsync(db, row)) continue;
                await Task.Delay(TimeSpan.FromMilliseconds(50), time, ct);
            }
        }
        return row is null ? NotFound(responseId).ToResult() : TypedResults.Ok(Body(row));
    }

    static async Task<Results<Ok<ResponseItemList>, ProblemHttpResult>> InputItems(
        string responseId, HttpContext http, AgentryDbContext db, IOptions<SecurityOptions> security, CancellationToken ct)
    {
        var row = await FindAsync(db, http, security.Value, responseId, ct);
        if (row is null) return NotFound(responseId).ToResult();
        var request = JsonSerializer.Deserialize<CreateResponseRequest>(row.Request, OpenAiErrors.Json)!;
        var items = new List<ResponseItem>();
        foreach (var message in request.Messages(out _))
        {
            var id = $"{responseId}_{items.Count}";
            if (message.Role == "tool") items.Add(new ResponseItem("function_call_output", id, ResponseObject.Completed, CallId: message.ToolCallId, FunctionOutput: message.Text(out _)));
            else if (message.ToolCalls is { } calls)
                items.AddRange(calls.Select((c, i) => ResponseItem.FunctionCall($"{id}_{i}", c.Id, c.Function.Name, c.Function.Arguments)));
            else items.Add(ResponseItem.Message(id, ResponseObject.Completed, message.Role, message.Text(out _) ?? "", message.Role == "assistant" ? "output_text" : "input_text"));
        }
        return TypedResults.Ok(new ResponseItemList("list", items, items.FirstOrDefault()?.Id, items.LastOrDefault()?.Id, false));
    }

    /// <summary>A response's events after <paramref name="after"/> (a sequence_number), each as its typed SSE event with that number as its id.</summary>
    static async IAsyncEnumerable<SseItem<string>> Events(IEventLog log, string responseId, long after, [EnumeratorCancellation] CancellationToken ct)
    {
        await foreach (var item in log.ReadAsync(ResponseRuns.Stream(responseId), after + 1, ct))
            yield return new SseItem<string>(item.Data, item.Type) { EventId = (item.Sequence - 1).ToString(System.Globalization.CultureInfo.InvariantCulture) };
    }

    static IQueryable<StoredResponse> Visible(AgentryDbContext db, Caller? caller, SecurityOptions security) =>
        ConversationAccess.SeesAll(caller, security) ? db.Responses : caller is null ? db.Responses.Where(r => false) : db.Responses.Where(r => r.OwnerKeyId == caller.KeyId);

    static Task<StoredResponse?> FindAsync(AgentryDbContext db, HttpContext http, SecurityOptions security, string responseId, CancellationToken ct) =>
        Visible(db, http.GetCaller(), security).AsNoTracking().FirstOrDefaultAsync(r => r.Id == responseId, ct);

    static ResponseObject Body(StoredResponse row) => JsonSerializer.Deserialize<ResponseObject>(row.Body, OpenAiErrors.Json)!;

    static ApiProblemException NotFound(string responseId) =>
        new(404, ProblemTypes.ResponseNotFound, "Response not found", $"There is no stored response '{responseId}' for this key (store=false responses are not kept).");
}
