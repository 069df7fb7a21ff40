using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Agentry.Agents;
using Agentry.Api;
using Agentry.Data;
using Agentry.Models;
using Agentry.Security;
using Agentry.Tools;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;

namespace Agentry.Conversations;

/// <summary>What a client asked for in one turn. A null conversation id starts a new conversation.</summary>
public sealed record TurnRequest(string? ConversationId, string Content, string? AgentId, string? UserId, Caller? Caller);

/// <summary>One Server-Sent Event of a streaming turn.</summary>
public sealed record TurnEvent(string Type, object Data)
{
    public const string Delta = "message.delta";
    public const string ToolCall = "tool.call";
    public const string ToolResult = "tool.result";
    public const string MessageCompleted = "message.completed";
    public const string TurnCompleted = "turn.completed";
    public const string Error = "error";
}

/// <summary>
/// Runs a turn: loads the conversation's recent history, calls the agent's model, and stores the user's message
/// with everything the model produced in one transaction. A turn that fails before the model produced anything
/// stores nothing, so the client can simply retry; a streamed turn that is cut short stores what the user saw,
/// marked interrupted.
/// </summary>
public sealed partial class TurnRunner(
    AgentryDbContext db, AgentCatalog agents, ModelCatalog models, ToolCatalog tools, ConversationGate gate,
    IOptions<ConversationOptions> conversationOptions, IOptions<ModelOptions> modelOptions, IOptions<SecurityOptions> security, TokenBudget budget,
    TimeProvider time, IHttpContextAccessor http, ILogger<TurnRunner> logger)
{
    readonly ConversationOptions _options = conversationOptions.Value;

    public async Task<TurnDto> RunAsync(TurnRequest request, CancellationToken cancellationToken)
    {
        var turn = await PrepareAsync(request, cancellationToken);
        try
        {
            ChatResponse response;
            try
            {
                response = await turn.Model.Client.GetResponseAsync(turn.Prompt, turn.ChatOptions, cancellationToken);
            }
            catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                throw UpstreamModelException.TryClassify(e) ?? throw new InvalidOperationException("The model call failed.", e);
            }
            var messages = await CommitAsync(turn, response, MessageStatus.Completed, null);
            return ToDto(turn, messages, response.Usage);
        }
        finally
        {
            turn.Lease.Dispose();
        }
    }

    public async IAsyncEnumerable<TurnEvent> StreamAsync(TurnRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var turn = await PrepareAsync(request, cancellationToken);
        var updates = new List<ChatResponseUpdate>();
        var yielded = 0;
        var committed = false;
        Exception? failure = null;
        using var idle = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var idleTimeout = modelOptions.Value.Resilience.StreamIdleTimeout;
        try
        {
            var upstream = turn.Model.Client.GetStreamingResponseAsync(turn.Prompt, turn.ChatOptions, idle.Token).GetAsyncEnumerator(idle.Token);
            try
            {
                while (true)
                {
                    idle.CancelAfter(idleTimeout);
                    bool more;
                    try
                    {
                        more = await upstream.MoveNextAsync();
                    }
                    catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
                    {
                        break; // the client went away; the finally block stores what was generated
                    }
                    catch (OperationCanceledException e) when (idle.IsCancellationRequested)
                    {
                        failure = UpstreamModelException.Timeout($"The model provider sent nothing for {idleTimeout.TotalSeconds:0.#} s.", e);
                        break;
                    }
                    catch (Exception e)
                    {
                        failure = UpstreamModelException.TryClassify(e) ?? e;
                        break;
                    }
                    if (!more) break;

                    var update = upstream.Current;
                    updates.Add(update);
                    foreach (var content in update.Contents)
                    {
                        var streamed = ToEvent(turn, content, updates);
                        if (streamed is null) continue;
                        yielded++;
                        yield return streamed;
                    }
                }
            }
            finally
            {
                await upstream.DisposeAsync();
            }

            if (failure is not null && yielded == 0) throw failure; // nothing reached the client: answer with a plain problem
            if (cancellationToken.IsCancellationRequested) yield break;

            var response = updates.ToChatResponse();
            var status = failure is null ? MessageStatus.Completed : MessageStatus.Interrupted;
            var stored = await CommitAsync(turn, response, status, failure is null ? null : "error");
            committed = true;
            if (failure is not null)
            {
                LogStreamFailed(failure, turn.Conversation.Id);
                var problem = ApiExceptionHandler.Describe(failure, out _);
                problem.Extensions["traceId"] = Activity.Current?.TraceId.ToString() ?? http.HttpContext?.TraceIdentifier;
                yield return new TurnEvent(TurnEvent.Error, problem);
                yield break;
            }
            foreach (var message in stored.Where(m => m.Role == MessageRoles.Assistant))
                yield return new TurnEvent(TurnEvent.MessageCompleted, MessageDto.From(message));
            yield return new TurnEvent(TurnEvent.TurnCompleted, ToDto(turn, stored, response.Usage));
        }
        finally
        {
            // Reached without a commit when the client disconnected or stopped reading: keep what it was shown.
            if (!committed && !(failure is not null && yielded == 0))
            {
                try
                {
                    await CommitAsync(turn, updates.ToChatResponse(), MessageStatus.Interrupted, "client_disconnected");
                }
                catch (Exception e) when (e is DbUpdateException or ApiProblemException)
                {
                    LogInterruptedNotStored(e, turn.Conversation.Id);
                }
            }
            turn.Lease.Dispose();
        }
    }

    static TurnEvent? ToEvent(PreparedTurn turn, AIContent content, List<ChatResponseUpdate> updates) => content switch
    {
        TextContent { Text.Length: > 0 } text => new TurnEvent(TurnEvent.Delta, new { agentId = turn.Agent.Id, text = text.Text }),
        FunctionCallContent call => new TurnEvent(TurnEvent.ToolCall,
            new { agentId = turn.Agent.Id, callId = call.CallId, name = call.Name, arguments = call.Arguments }),
        FunctionResultContent result => new TurnEvent(TurnEvent.ToolResult,
            new { agentId = turn.Agent.Id, callId = result.CallId, name = FindCall(updates.SelectMany(u => u.Contents), result.CallId)?.Name, result = ResultText(result) }),
        _ => null,
    };

    sealed record PreparedTurn(
        Conversation Conversation, bool IsNew, AgentDefinition Agent, ResolvedModel Model, List<ChatMessage> Prompt, ChatOptions ChatOptions,
        string UserContent, Caller? Caller, IDisposable Lease, long StartedAt);

    async Task<PreparedTurn> PrepareAsync(TurnRequest request, CancellationToken cancellationToken)
    {
        var conversationId = request.ConversationId ?? Ids.New(Ids.ConversationPrefix);
        var lease = gate.TryEnter(conversationId) ?? throw Busy(conversationId);
        try
        {
            Conversation conversation;
            var isNew = request.ConversationId is null;
            if (isNew)
            {
                var now = time.GetUtcNow();
                conversation = new Conversation
                {
                    Id = conversationId, AgentId = request.AgentId ?? _options.DefaultAgent, UserId = request.UserId,
                    CreatedAt = now, UpdatedAt = now, OwnerKeyId = request.Caller?.KeyId,
                };
            }
            else
            {
                conversation = await db.Conversations.FirstOrDefaultAsync(c => c.Id == conversationId, cancellationToken)
                    ?? throw Problems.ConversationNotFound(conversationId);
                if (!conversation.CanSee(request.Caller, security.Value)) throw Problems.ConversationNotFound(conversationId);
            }

            var agentId = request.AgentId ?? conversation.AgentId;
            var agent = (await agents.FindAsync(agentId, db, cancellationToken))?.Definition ?? throw Problems.AgentNotFound(agentId);
            var model = models.Resolve(agent.Model);
            await budget.EnsureAvailableAsync(request.Caller, cancellationToken);

            var prompt = new List<ChatMessage> { new(ChatRole.System, SystemPrompt.Compile(agent)) };
            if (!isNew) prompt.AddRange(await LoadHistoryAsync(conversation.Id, cancellationToken));
            prompt.Add(new ChatMessage(ChatRole.User, request.Content));

            var agentTools = tools.Resolve(agent.Tools).ToList<AITool>();
            var chatOptions = new ChatOptions
            {
                Temperature = (float?)agent.Temperature,
                MaxOutputTokens = agent.MaxOutputTokens,
                Tools = agentTools.Count > 0 ? agentTools : null,
            };
            return new PreparedTurn(conversation, isNew, agent, model, prompt, chatOptions, request.Content, request.Caller, lease, Stopwatch.GetTimestamp());
        }
        catch
        {
            lease.Dispose();
            throw;
        }
    }

    /// <summary>The newest messages that carry text, oldest first; reads one index range however long the conversation is.</summary>
    async Task<IEnumerable<ChatMessage>> LoadHistoryAsync(string conversationId, CancellationToken cancellationToken)
    {
        var recent = await db.Messages.AsNoTracking()
            .Where(m => m.ConversationId == conversationId && (m.Role == MessageRoles.User || m.Role == MessageRoles.Assistant) && m.Content != "")
            .OrderByDescending(m => m.Sequence)
            .Take(_options.HistoryLimit)
            .Select(m => new { m.Role, m.Content })
            .ToListAsync(cancellationToken);
        recent.Reverse();
        return recent.Select(m => new ChatMessage(m.Role == MessageRoles.User ? ChatRole.User : ChatRole.Assistant, m.Content));
    }

    async Task<List<Message>> CommitAsync(PreparedTurn turn, ChatResponse response, string status, string? finishReasonOverride)
    {
        var now = time.GetUtcNow();
        var conversation = turn.Conversation;
        var sequence = conversation.LastSequence;
        var stored = new List<Message>
        {
            NewMessage(conversation.Id, ++sequence, MessageRoles.User, turn.Agent.Id, turn.UserContent, now),
        };

        var produced = response.Messages;
        var calls = produced.SelectMany(m => m.Contents).OfType<FunctionCallContent>().ToList();
        foreach (var message in produced)
        {
            foreach (var result in message.Contents.OfType<FunctionResultContent>())
            {
                var call = FindCall(calls, result.CallId);
                var tool = NewMessage(conversation.Id, ++sequence, MessageRoles.Tool, turn.Agent.Id, Truncate(ResultText(result)), now);
                tool.Metadata = JsonSerializer.Serialize(new { toolName = call?.Name, callId = result.CallId, arguments = call?.Arguments });
                stored.Add(tool);
            }
            if (message.Role == ChatRole.Assistant && !string.IsNullOrWhiteSpace(message.Text))
                stored.Add(NewMessage(conversation.Id, ++sequence, MessageRoles.Assistant, turn.Agent.Id, message.Text, now));
        }

        // Every turn ends with one assistant message carrying the model facts, even when the model said nothing.
        var last = stored[^1].Role == MessageRoles.Assistant ? stored[^1] : null;
        if (last is null) stored.Add(last = NewMessage(conversation.Id, ++sequence, MessageRoles.Assistant, turn.Agent.Id, "", now));
        last.Model = turn.Model.Name;
        last.InputTokens = (int?)response.Usage?.InputTokenCount;
        last.OutputTokens = (int?)response.Usage?.OutputTokenCount;
        last.LatencyMs = (int)Stopwatch.GetElapsedTime(turn.StartedAt).TotalMilliseconds;
        last.FinishReason = finishReasonOverride ?? response.FinishReason?.Value ?? "stop";
        last.Status = status;

        conversation.LastSequence = sequence;
        conversation.UpdatedAt = now;
        conversation.AgentId = turn.Agent.Id;
        if (turn.IsNew) db.Conversations.Add(conversation);
        db.Messages.AddRange(stored);
        try
        {
            await db.SaveChangesAsync(CancellationToken.None); // once the model has answered, a disconnect must not lose the turn
        }
        catch (DbUpdateConcurrencyException)
        {
            db.ChangeTracker.Clear();
            throw new ApiProblemException(409, ProblemTypes.ConversationBusy, "Conversation changed",
                $"Conversation '{conversation.Id}' was changed or deleted by another request during this turn; reload it and retry.");
        }
        // Charged after the commit, with what the provider reported: the budget counts real usage, including interrupted turns.
        await budget.ChargeAsync(turn.Caller, (response.Usage?.InputTokenCount ?? 0) + (response.Usage?.OutputTokenCount ?? 0), CancellationToken.None);
        return stored;
    }

    static Message NewMessage(string conversationId, long sequence, string role, string agentId, string content, DateTimeOffset now) => new()
    {
        Id = Ids.New(Ids.MessagePrefix), ConversationId = conversationId, Sequence = sequence, Role = role, AgentId = agentId,
        Content = content, CreatedAt = now,
    };

    static TurnDto ToDto(PreparedTurn turn, List<Message> stored, UsageDetails? usage) =>
        new(turn.Conversation.Id, turn.Agent.Id, stored.Select(MessageDto.From).ToList(),
            new UsageDto((int)(usage?.InputTokenCount ?? 0), (int)(usage?.OutputTokenCount ?? 0)), turn.Model.Name);

    static FunctionCallContent? FindCall(IEnumerable<AIContent> contents, string callId) =>
        contents.OfType<FunctionCallContent>().LastOrDefault(c => c.CallId == callId);

    static string ResultText(FunctionResultContent result) => result.Exception is not null ? $"Error: {result.Exception.Message}" : result.Result switch
    {
        null => "",
        string s => s,
        JsonElement { ValueKind: JsonValueKind.String } e => e.GetString()!,
        JsonElement e => e.GetRawText(),
        var other => JsonSerializer.Serialize(other),
    };

    string Truncate(string text) =>
        text.Length <= _options.MaxStoredToolResultChars ? text : string.Concat(text.AsSpan(0, _options.MaxStoredToolResultChars), "…[truncated]");

    static ApiProblemException Busy(string conversationId) =>
        new(409, ProblemTypes.ConversationBusy, "Conversation busy",
            $"Conversation '{conversationId}' is already answering another message; wait for that turn to finish, then retry.")
        { RetryAfter = TimeSpan.FromSeconds(1) };

    [LoggerMessage(EventId = 3000, Level = LogLevel.Warning, Message = "Streaming turn in {ConversationId} failed after output began; partial reply stored as interrupted")]
    partial void LogStreamFailed(Exception exception, string conversationId);

    [LoggerMessage(EventId = 3001, Level = LogLevel.Warning, Message = "Could not store the interrupted turn of {ConversationId}")]
    partial void LogInterruptedNotStored(Exception exception, string conversationId);
}
