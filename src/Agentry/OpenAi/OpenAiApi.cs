using Agentry.Agents;
using Agentry.Api;
using Agentry.Conversations;
using Agentry.Security;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Agentry.OpenAi;

/// <summary>
/// The doors an OpenAI client already knows: <c>/v1/models</c> lists the agents and workflows, and
/// <c>/v1/chat/completions</c> runs a turn through the same pipeline as <c>/v1/chat</c> (rules, limits, budgets, audit,
/// metrics, storage). Only the request and response shapes differ.
/// </summary>
public static class OpenAiApi
{
    public const string Tag = "OpenAI compatible";
    /// <summary>The stored conversation a response belongs to; sent back (or as metadata.agentry_conversation_id) it continues it.</summary>
    public const string ConversationHeader = "Agentry-Conversation-Id";

    public static IEndpointRouteBuilder MapOpenAiApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1").WithTags(Tag).RequireAuthorization(Policies.Chat);
        group.MapGet("/models", ListModels).WithName("ListModels").WithSummary("The agents and workflows this key may talk to, as OpenAI models (id = agent id).");
        group.MapGet("/models/{model}", GetModel).WithName("GetModel").ProducesProblem(StatusCodes.Status404NotFound).WithSummary("One agent or workflow, as an OpenAI model.");
        group.MapPost("/chat/completions", CreateChatCompletion).Validated().WithName("CreateChatCompletion")
            .Produces<ChatCompletion>(StatusCodes.Status200OK, "application/json", "text/event-stream")
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict).ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status422UnprocessableEntity).AcceptsIdempotencyKey()
            .ProducesProblem(StatusCodes.Status502BadGateway).ProducesProblem(StatusCodes.Status503ServiceUnavailable).ProducesProblem(StatusCodes.Status504GatewayTimeout)
            .WithSummary("OpenAI Chat Completions with an agent as the model: stateless by default (stored as a conversation of the key), or continuing the conversation named by the Agentry-Conversation-Id header.");
        group.MapResponsesApi();
        return app;
    }

    static async Task<Ok<ModelList>> ListModels(AgentCatalog agents, CancellationToken ct) =>
        TypedResults.Ok(new ModelList("list", (await agents.ListAsync(ct)).Select(Card).ToList()));

    static async Task<Results<Ok<ModelCard>, ProblemHttpResult>> GetModel(string model, AgentCatalog agents, CancellationToken ct) =>
        await agents.FindAsync(model, ct) is { } entry ? TypedResults.Ok(Card(entry)) : Problems.AgentNotFound(model).ToResult();

    static readonly DateTimeOffset Started = new(System.Diagnostics.Process.GetCurrentProcess().StartTime.ToUniversalTime());

    static ModelCard Card(AgentEntry entry)
    {
        // An agent from a file was created, as far as this service knows, when it started and read the file.
        var created = entry.UpdatedAt ?? entry.CreatedAt ?? Started;
        var agent = entry.Definition;
        return new ModelCard(agent.Id, "model", created.ToUnixTimeSeconds(), "agentry",
            new ModelCardFacts(agent.Name, agent.Description, agent.Workflow is null ? "agent" : "workflow"));
    }

    static async Task<IResult> CreateChatCompletion(ChatCompletionRequest request, HttpContext http, TurnRunner runner, AgentCatalog agents, Idempotency idempotency,
        Observability.AgentryTelemetry telemetry, TimeProvider time, CancellationToken ct)
    {
        var caller = http.GetCaller() ?? throw new InvalidOperationException("A turn endpoint was reached without an authenticated caller.");
        var agent = (await agents.FindAsync(request.Model, ct))?.Definition ?? throw Problems.AgentNotFound(request.Model);
        var turn = ChatCompletionTurn.Request(request, agent, ConversationToContinue(request, http), caller,
            System.Diagnostics.Activity.Current?.TraceId.ToString() ?? http.TraceIdentifier);
        // With an Idempotency-Key (an SDK's retry after a 5xx, say) a turn that already ran is answered again, not run twice.
        var decision = await idempotency.BeginAsync(http, request, ct);
        if (decision is IdempotencyDecision.Replay replay)
        {
            http.Response.Headers[Idempotency.ReplayedHeader] = "true";
            http.Response.Headers[ConversationHeader] = replay.Turn.ConversationId;
            if (request.Stream != true) return TypedResults.Ok(ChatCompletionTurn.Completion(request.Model, replay.Turn, time.GetUtcNow()));
            var replayed = Replayed(replay.Turn).GetAsyncEnumerator(ct);
            return TypedResults.ServerSentEvents(ChatCompletionChunks.From(replayed, await replayed.MoveNextAsync(), request.Model,
                request.StreamOptions?.IncludeUsage == true, time.GetUtcNow(), telemetry, ct));
        }
        turn = turn with { Idempotency = (decision as IdempotencyDecision.Proceed)?.Key };
        http.Response.Headers[ConversationHeader] = turn.ConversationId ?? turn.NewConversationId;
        if (request.Stream != true) return TypedResults.Ok(ChatCompletionTurn.Completion(request.Model, await runner.RunAsync(turn, ct), time.GetUtcNow()));

        // The first event is awaited before the response starts: a turn that cannot start still gets its status code.
        var events = runner.StreamAsync(turn, ct).GetAsyncEnumerator(ct);
        bool any;
        try
        {
            any = await events.MoveNextAsync();
        }
        catch
        {
            await events.DisposeAsync();
            throw;
        }
        return TypedResults.ServerSentEvents(ChatCompletionChunks.From(events, any, request.Model, request.StreamOptions?.IncludeUsage == true, time.GetUtcNow(), telemetry, ct));
    }

    /// <summary>A stored turn as the stream of its end: its chunks carry the whole text at once.</summary>
    static async IAsyncEnumerable<TurnEvent> Replayed(TurnDto turn)
    {
        yield return new TurnEvent(TurnEvent.TurnCompleted, turn);
        await Task.CompletedTask;
    }

    /// <summary>The header wins over the metadata when both name a conversation (an SDK sets headers per client, metadata per call).</summary>
    static string? ConversationToContinue(ChatCompletionRequest request, HttpContext http)
    {
        var header = http.Request.Headers[ConversationHeader].ToString();
        if (header.Length == 0) return request.Metadata?.GetValueOrDefault(ChatCompletionRequest.ConversationMetadataKey);
        return Data.Ids.IsValid(header, Data.Ids.ConversationPrefix) ? header : throw new ApiValidationException(ConversationHeader, "Not a conversation id (conv_…).");
    }
}
