using System.Net.ServerSentEvents;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Agentry.Agents;
using Agentry.Api;
using Agentry.Audit;
using Agentry.Data;
using Agentry.Security;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Agentry.Conversations;

public static class ConversationsApi
{
    static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public static RouteGroupBuilder MapConversationsApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/conversations").WithTags("Conversations");
        group.MapPost("/", Create).Validated().WithName("CreateConversation").RequireAuthorization(Policies.Chat)
            .ProducesProblem(StatusCodes.Status404NotFound).WithSummary("Start a conversation with an agent; its greeting, if any, opens it.");
        group.MapGet("/", List).WithName("ListConversations").RequireAuthorization(Policies.ReadConversations)
            .WithSummary("Conversations, newest first (a non-admin key sees its own); filter by userId, agentId, status (pending_approval) and last activity (from, to). An eval run's conversations are listed only with evalRunId.");
        group.MapGet("/{conversationId}", Get).WithName("GetConversation").RequireAuthorization(Policies.ReadConversations)
            .ProducesProblem(StatusCodes.Status404NotFound).WithSummary("One conversation.");
        group.MapDelete("/{conversationId}", Delete).WithName("DeleteConversation").RequireAuthorization(Policies.Chat)
            .ProducesProblem(StatusCodes.Status404NotFound).WithSummary("Delete a conversation and its messages.");
        group.MapGet("/{conversationId}/messages", ListMessages).WithName("ListMessages").RequireAuthorization(Policies.ReadConversations)
            .ProducesProblem(StatusCodes.Status404NotFound).WithSummary("A conversation's messages, oldest first, a page at a time.");
        group.MapGet("/{conversationId}/context", Context).WithName("GetConversationContext").RequireAuthorization(Policies.ReadConversations)
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status503ServiceUnavailable)
            .WithSummary("What the next turn would send to the model, part by part with token counts (instructions, tools, memory, knowledge, summary, history); 'message' previews it for that message.");
        group.MapPost("/{conversationId}/messages", PostMessage).Validated().WithName("PostMessage").RequireAuthorization(Policies.Chat).Turn()
            .WithSummary("Send a user message and get the agent's reply (JSON, or SSE with Accept: text/event-stream or stream: true).");

        group.MapGet("/{conversationId}/turns/{turnId}/events", ResumeTurnEvents).WithName("ResumeTurnEvents").RequireAuthorization(Policies.ReadConversations)
            .Produces<string>(StatusCodes.Status200OK, "text/event-stream").ProducesProblem(StatusCodes.Status404NotFound)
            .AddOpenApiOperationTransformer((operation, _, _) =>
            {
                operation.Parameters ??= [];
                operation.Parameters.Add(new Microsoft.OpenApi.OpenApiParameter
                {
                    Name = "Last-Event-ID", In = Microsoft.OpenApi.ParameterLocation.Header, Required = false,
                    Description = "The id of the last event the client received; the stream continues after it (from the start without it).",
                    Schema = new Microsoft.OpenApi.OpenApiSchema { Type = Microsoft.OpenApi.JsonSchemaType.String, MaxLength = 20 },
                });
                return Task.CompletedTask;
            })
            .WithSummary("A streamed turn's events after Last-Event-ID, then the rest live: where a client that lost its connection picks up (the stream's Location header names it). Kept for Streaming:ResumeWindow.");

        app.MapPost("/v1/chat", Chat).Validated().WithTags("Conversations").WithName("Chat").RequireAuthorization(Policies.Chat).Turn()
            .WithSummary("Chat in one call: continues conversationId, or starts a conversation with agentId (default agent when absent).");
        return group;
    }

    /// <summary>What a turn endpoint answers: the turn as JSON or as a stream, or why there was none.</summary>
    static RouteHandlerBuilder Turn(this RouteHandlerBuilder endpoint) =>
        endpoint.Produces<TurnDto>(StatusCodes.Status200OK, "application/json", "text/event-stream")
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict).ProducesProblem(StatusCodes.Status422UnprocessableEntity)
            .AcceptsIdempotencyKey()
            .ProducesProblem(StatusCodes.Status502BadGateway).ProducesProblem(StatusCodes.Status503ServiceUnavailable).ProducesProblem(StatusCodes.Status504GatewayTimeout);

    static async Task<Results<Created<ConversationDto>, ProblemHttpResult, ValidationProblem>> Create(
        CreateConversationRequest request, AgentCatalog agents, PersonalityOverrides personalities, AgentryDbContext db, TimeProvider time, HttpContext http,
        CancellationToken ct)
    {
        if (await agents.FindAsync(request.AgentId, ct) is not { } agent) return Problems.AgentNotFound(request.AgentId).ToResult();
        var (overrides, refused) = await personalities.CheckAsync(agent.Definition, request.Personality, ct);
        if (refused.Count > 0) return Problems.Validation(refused);
        var now = time.GetUtcNow();
        var conversation = new Conversation
        {
            Id = Ids.New(Ids.ConversationPrefix), AgentId = request.AgentId, UserId = request.UserId, Title = request.Title,
            Metadata = request.Metadata is null ? null : JsonSerializer.Serialize(request.Metadata), CreatedAt = now, UpdatedAt = now,
            OwnerKeyId = http.GetCaller()?.KeyId,
            PersonalityOverride = overrides is null ? null : JsonSerializer.Serialize(overrides, Json),
        };
        db.Conversations.Add(conversation);
        // A configured greeting opens the conversation, so a chat window has something to show before the user types.
        var greeting = agent.Definition.Personality.With(overrides).Greeting;
        if (!string.IsNullOrWhiteSpace(greeting))
        {
            conversation.LastSequence = 1;
            db.Messages.Add(new Message
            {
                Id = Ids.New(Ids.MessagePrefix), ConversationId = conversation.Id, Sequence = 1, Role = MessageRoles.Assistant, AgentId = agent.Definition.Id,
                Content = greeting, FinishReason = "greeting", CreatedAt = now,
            });
        }
        await db.SaveChangesAsync(ct);
        return TypedResults.Created($"/v1/conversations/{conversation.Id}", ConversationDto.From(conversation) with { Greeting = greeting });
    }

    /// <summary>Newest first.</summary>
    /// <summary>The <c>status</c> filter: a conversation whose turn waits for a person to decide a held tool call.</summary>
    public const string PendingApprovalStatus = "pending_approval";

    static async Task<Results<Ok<Page<ConversationDto>>, ValidationProblem>> List(
        string? userId, string? agentId, string? status, DateTimeOffset? from, DateTimeOffset? to, string? evalRunId, int? limit, string? cursor, AgentryDbContext db,
        HttpContext http, IOptions<SecurityOptions> security, CancellationToken ct)
    {
        if (!Pagination.TryGetLimit(limit, out var take, out var errors)) return Problems.Validation(errors.ToDictionary());
        if (status is not (null or PendingApprovalStatus)) return Problems.Validation("status", $"Use '{PendingApprovalStatus}' (a held tool call waits for a decision), or leave it out.");
        var query = db.Conversations.AsNoTracking().VisibleTo(http.GetCaller(), security.Value);
        // An eval run's conversations are its own record, listed when asked for by run, not among the real ones.
        query = evalRunId is null ? query.Where(c => c.EvalRunId == null) : query.Where(c => c.EvalRunId == evalRunId);
        if (userId is not null) query = query.Where(c => c.UserId == userId);
        if (agentId is not null) query = query.Where(c => c.AgentId == agentId);
        if (status is PendingApprovalStatus)
            query = query.Where(c => db.Approvals.Any(a => a.ConversationId == c.Id && a.Status == Approvals.ApprovalStatus.Pending));
        // Last activity; stored as fixed-width UTC text on SQLite, so these are time comparisons there too.
        if (from is { } start) query = query.Where(c => c.UpdatedAt >= start);
        if (to is { } end) query = query.Where(c => c.UpdatedAt < end);
        if (cursor is not null) query = query.Where(c => string.Compare(c.Id, cursor) < 0);
        var rows = await query.OrderByDescending(c => c.Id).Take(take + 1).ToListAsync(ct);
        return TypedResults.Ok(Pagination.ToPage(rows, take, ConversationDto.From, c => c.Id));
    }

    static async Task<Results<Ok<ConversationDto>, ProblemHttpResult>> Get(
        string conversationId, AgentryDbContext db, HttpContext http, IOptions<SecurityOptions> security, CancellationToken ct) =>
        await db.Conversations.AsNoTracking().VisibleTo(http.GetCaller(), security.Value).FirstOrDefaultAsync(c => c.Id == conversationId, ct) is { } conversation
            ? TypedResults.Ok(ConversationDto.From(conversation))
            : Problems.ConversationNotFound(conversationId).ToResult();

    static async Task<Results<Ok<ContextPreviewDto>, ValidationProblem>> Context(
        string conversationId, string? message, TurnStore turns, Context.ContextBuilder contexts, HttpContext http, IOptions<ConversationOptions> options,
        IOptions<Memory.MemoryOptions> memory, CancellationToken ct)
    {
        if (message is { Length: > PostMessageRequest.MaxContentLength }) return Problems.Validation("message", $"At most {PostMessageRequest.MaxContentLength} characters.");
        using var turn = await turns.PreviewAsync(conversationId, message, http.GetCaller()!, ct);
        var context = await contexts.BuildAsync(Agentry.Conversations.Context.ContextRequest.For(turn), ct);
        return TypedResults.Ok(ContextPreviewDto.From(turn, context, options.Value, memory.Value));
    }

    static async Task<Results<NoContent, ProblemHttpResult>> Delete(
        string conversationId, AgentryDbContext db, AuditLog audit, HttpContext http, IOptions<SecurityOptions> security, CancellationToken ct)
    {
        // Messages go with it (ON DELETE CASCADE). Another key's conversation answers 404, as if it did not exist.
        // The deletion and its audit event commit together.
        await using var transaction = await db.Database.BeginTransactionAsync(ct);
        var deleted = await db.Conversations.VisibleTo(http.GetCaller(), security.Value).Where(c => c.Id == conversationId).ExecuteDeleteAsync(ct);
        if (deleted == 0) return Problems.ConversationNotFound(conversationId).ToResult();
        // The messages' vectors are derived from their text: they go too, in the same transaction.
        await db.Embeddings.Where(e => e.Collection == Memory.ConversationSearch.Collection(conversationId)).ExecuteDeleteAsync(ct);
        await db.Responses.Where(r => r.ConversationId == conversationId).ExecuteDeleteAsync(ct); // the Responses API's copies of its turns
        audit.Stage(db, AuditActor.From(http), AuditActions.ConversationDeleted, $"conversation:{conversationId}");
        await db.SaveChangesAsync(ct);
        await transaction.CommitAsync(ct);
        return TypedResults.NoContent();
    }

    /// <summary>Oldest first; the cursor is the sequence number of the last message of the previous page.</summary>
    static async Task<Results<Ok<Page<MessageDto>>, ValidationProblem, ProblemHttpResult>> ListMessages(
        string conversationId, int? limit, string? cursor, AgentryDbContext db, HttpContext http, IOptions<SecurityOptions> security, CancellationToken ct)
    {
        if (!Pagination.TryGetLimit(limit, out var take, out var errors)) return Problems.Validation(errors.ToDictionary());
        long after = 0;
        if (cursor is not null && !long.TryParse(cursor, out after)) return Problems.Validation("cursor", "Not a cursor returned by this endpoint.");
        if (!await db.Conversations.VisibleTo(http.GetCaller(), security.Value).AnyAsync(c => c.Id == conversationId, ct))
            return Problems.ConversationNotFound(conversationId).ToResult();
        var rows = await db.Messages.AsNoTracking()
            .Where(m => m.ConversationId == conversationId && m.Sequence > after)
            .OrderBy(m => m.Sequence).Take(take + 1).ToListAsync(ct);
        return TypedResults.Ok(Pagination.ToPage(rows, take, MessageDto.From, m => m.Sequence.ToString(System.Globalization.CultureInfo.InvariantCulture)));
    }

    static Task<IResult> PostMessage(string conversationId, PostMessageRequest request, HttpContext http, TurnRunner runner, Idempotency idempotency, CancellationToken ct) =>
        RespondAsync(runner, idempotency, http, request, key => new TurnRequest(conversationId, request.Content, request.AgentId, null, Caller(http), TraceId(http), key),
            WantsStream(http, request.Stream), ct);

    static Task<IResult> Chat(ChatRequest request, HttpContext http, TurnRunner runner, Idempotency idempotency, CancellationToken ct) =>
        RespondAsync(runner, idempotency, http, request,
            key => new TurnRequest(request.ConversationId, request.Message, request.AgentId, request.UserId, Caller(http), TraceId(http), key)
            {
                NewConversationId = request.ConversationId is null ? Ids.New(Ids.ConversationPrefix) : null,
            },
            WantsStream(http, request.Stream), ct);

    static async Task<Results<ServerSentEventsResult<string>, ProblemHttpResult, ValidationProblem>> ResumeTurnEvents(
        string conversationId, string turnId, HttpContext http, Streaming.ResumableStreams streams, AgentryDbContext db, IOptions<SecurityOptions> security,
        CancellationToken ct)
    {
        long after = 0;
        var lastEventId = http.Request.Headers["Last-Event-ID"].ToString();
        if (lastEventId.Length > 0 && (!long.TryParse(lastEventId, out after) || after < 0)) return Problems.Validation("Last-Event-ID", "The id of an event of this stream.");
        // The conversation is checked as a read of it; a new conversation is stored when its first turn ends, so until
        // then its stream is found under the caller's own key only.
        var caller = http.GetCaller();
        var conversation = await db.Conversations.AsNoTracking().Where(c => c.Id == conversationId).Select(c => new { c.OwnerKeyId, c.UserId }).FirstOrDefaultAsync(ct);
        string? owner;
        if (conversation is null) owner = caller?.KeyId;
        else if (await db.Conversations.AsNoTracking().VisibleTo(caller, security.Value).AnyAsync(c => c.Id == conversationId, ct)) owner = conversation.OwnerKeyId;
        else return Problems.ConversationNotFound(conversationId).ToResult();
        var stream = Streaming.ResumableStreams.TurnStream(owner, conversationId, turnId);
        if (!await streams.ExistsAsync(stream))
            return Problems.NotFound(ProblemTypes.NotFound, $"No stream of turn '{turnId}' is kept: it never existed here, or ended more than Streaming:ResumeWindow ago. Read the conversation's messages instead.");
        return TypedResults.ServerSentEvents(Follow(streams.ReadAsync(stream, after, ct), http.RequestServices.GetRequiredService<Observability.AgentryTelemetry>()));
    }

    static string TraceId(HttpContext http) => System.Diagnostics.Activity.Current?.TraceId.ToString() ?? http.TraceIdentifier;

    /// <summary>These endpoints require a key; a request without a caller here is a wiring bug, refused rather than run as nobody.</summary>
    static Caller Caller(HttpContext http) => http.GetCaller() ?? throw new InvalidOperationException("A turn endpoint was reached without an authenticated caller.");

    static bool WantsStream(HttpContext http, bool? stream) =>
        stream ?? http.Request.Headers.Accept.Any(a => a is not null && a.Contains("text/event-stream", StringComparison.OrdinalIgnoreCase));

    /// <summary>
    /// For a stream, the first event is awaited before the response starts, so a turn that fails early (unknown
    /// conversation, busy, provider down) still gets a proper status code and problem body instead of an SSE error.
    /// With an Idempotency-Key the turn owns the key from here (Conversations/Idempotency.cs): its commit completes or frees it.
    /// </summary>
    static async Task<IResult> RespondAsync(TurnRunner runner, Idempotency idempotency, HttpContext http, object body, Func<IdempotencyKey?, TurnRequest> request, bool stream,
        CancellationToken ct)
    {
        // With an Idempotency-Key, a retry of a turn that already ran gets its result, not a second turn.
        var decision = await idempotency.BeginAsync(http, body, ct);
        if (decision is IdempotencyDecision.Replay replay)
        {
            http.Response.Headers[Idempotency.ReplayedHeader] = "true";
            return stream ? TypedResults.ServerSentEvents(Replayed(replay.Turn)) : TypedResults.Ok(replay.Turn);
        }
        var turnRequest = request((decision as IdempotencyDecision.Proceed)?.Key);
        if (!stream) return TypedResults.Ok(await runner.RunAsync(turnRequest, ct));

        // The turn runs detached from this connection (unless Streaming:CancelOnDisconnect): its events go to the event
        // log, this response and any reconnect read them from there.
        // It has services of its own: the request's are disposed when its client leaves, and the turn must still commit.
        var cancelOnDisconnect = http.RequestServices.GetRequiredService<IOptions<Streaming.StreamingOptions>>().Value.CancelOnDisconnect;
        var run = new Streaming.DetachedTurn(http, cancelOnDisconnect ? ct : CancellationToken.None);
        var events = run.Runner.StreamAsync(turnRequest, run.Token).GetAsyncEnumerator(run.Token);
        bool any;
        try
        {
            any = await events.MoveNextAsync();
        }
        catch
        {
            await events.DisposeAsync();
            await run.DisposeAsync();
            throw;
        }
        var conversationId = turnRequest.ConversationId ?? turnRequest.NewConversationId!;
        var turnId = Ids.New(TurnPrefix);
        var owner = turnRequest.ConversationId is null ? turnRequest.Caller.KeyId : await OwnerAsync(http, conversationId, ct);
        var streams = http.RequestServices.GetRequiredService<Streaming.ResumableStreams>();
        var name = Streaming.ResumableStreams.TurnStream(owner, conversationId, turnId);
        streams.Pump(name, events, any, run);
        http.Response.Headers.Location = $"/v1/conversations/{conversationId}/turns/{turnId}/events";
        return TypedResults.ServerSentEvents(Follow(streams.ReadAsync(name, 0, ct), http.RequestServices.GetRequiredService<Observability.AgentryTelemetry>()));
    }

    /// <summary>The prefix of a streamed turn's id, which names its resumable stream.</summary>
    public const string TurnPrefix = "turn";

    static async Task<string?> OwnerAsync(HttpContext http, string conversationId, CancellationToken ct) =>
        await http.RequestServices.GetRequiredService<AgentryDbContext>().Conversations.AsNoTracking().Where(c => c.Id == conversationId)
            .Select(c => c.OwnerKeyId).FirstOrDefaultAsync(ct);

    /// <summary>A replayed turn as a stream: its stored messages and the turn, as the first request's stream ended.</summary>
    static async IAsyncEnumerable<SseItem<object>> Replayed(TurnDto turn)
    {
        foreach (var message in turn.Messages.Where(m => m.Role == MessageRoles.Assistant))
            yield return new SseItem<object>(message, TurnEvent.MessageCompleted);
        yield return new SseItem<object>(turn, TurnEvent.TurnCompleted);
        await Task.CompletedTask;
    }

    static async IAsyncEnumerable<SseItem<string>> Follow(IAsyncEnumerable<SseItem<string>> events, Observability.AgentryTelemetry telemetry)
    {
        telemetry.StreamOpened();
        try
        {
            await foreach (var item in events) yield return item;
        }
        finally
        {
            telemetry.StreamClosed();
        }
    }
}
