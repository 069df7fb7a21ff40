using System.Text.Json;
using System.Text.Json.Nodes;
using Agentry.Agents;
using Agentry.Api;
using Agentry.Approvals;
using Agentry.Audit;
using Agentry.Data;
using Agentry.Models;
using Agentry.Security;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;

namespace Agentry.Conversations;

/// <summary>
/// A turn's first and last step: <see cref="BeginAsync"/> admits it (one turn per conversation), loads the conversation
/// and its history window; <see cref="CommitAsync"/> stores everything it produced,
/// with its audit events, in one transaction.
/// </summary>
public sealed class TurnStore(
    AgentryDbContext db, AgentCatalog agents, ModelCatalog models, ConversationGate gate, TokenBudget budget, TurnShutdown shutdown, Operations.ServiceDrain drain,
    Idempotency idempotency, Memory.UserMemories memories, Memory.SnapshotCache snapshots, AuditLog audit, Tools.ToolCatalog tools, IOptions<ConversationOptions> options,
    IOptions<SecurityOptions> security, TimeProvider time)
{
    static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public async Task<Turn> BeginAsync(TurnRequest request, CancellationToken cancellationToken)
    {
        try
        {
            return await OpenAsync(request, cancellationToken);
        }
        catch when (request.Idempotency is { } key)
        {
            await idempotency.ReleaseAsync(key); // the turn never started: nothing to replay, the client may retry
            throw;
        }
    }

    async Task<Turn> OpenAsync(TurnRequest request, CancellationToken cancellationToken)
    {
        if (drain.IsDraining) throw TurnShutdown.Refused(); // the load balancer is moving the client to another instance
        // A message the history window cannot hold is refused whole, not cut silently or sent past the model's context.
        if (Tokens.Count(request.Content) is var size && size > options.Value.HistoryTokenLimit)
            throw new ApiProblemException(413, ProblemTypes.MessageTooLarge, "Message too large",
                $"The message is {size} tokens; this service sends at most {options.Value.HistoryTokenLimit} tokens of conversation (Conversations:HistoryTokenLimit). Split it or shorten it.");
        var conversationId = request.ConversationId ?? request.NewConversationId ?? Ids.New(Ids.ConversationPrefix);
        var lease = await gate.TryEnterAsync(conversationId) ?? throw Busy(conversationId);
        try
        {
            var isNew = request.ConversationId is null;
            var conversation = isNew ? NewConversation(conversationId, request) : await LoadAsync(conversationId, request.Caller, cancellationToken);
            var agentId = request.AgentId ?? conversation.AgentId;
            var agent = (await agents.FindAsync(agentId, cancellationToken))?.Definition ?? throw Problems.AgentNotFound(agentId);
            CheckClientTools(request, agent);
            var model = models.Resolve(request.ModelOverride ?? agent.Model);
            var window = !isNew ? await LoadHistoryAsync(conversation, agent, cancellationToken)
                : request.Transcript.Count > 0 ? ClientHistory(request)
                : HistoryWindow.Empty;
            var turn = new Turn(conversation, isNew, request, request.Caller, lease, agent, model, window.Messages, shutdown.Token, window.Tokens);
            turn.Summarize(window.Summary, window.SummaryUpdate, window.SummaryIsNew, window.Folded, window.PreviousSummary);
            if (request.ClientToolResults is { } results)
            {
                var calls = request.ClientToolCalls ?? await WaitingClientCallsAsync(conversationId, cancellationToken);
                if (calls.Count != results.Count || calls.Any(c => results.All(r => r.CallId != c.CallId)))
                    throw new ApiProblemException(400, ProblemTypes.ToolResultsMismatch, "Tool results do not match",
                        calls.Count == 0
                            ? $"Conversation '{conversationId}' is not waiting for tool results; send a user message instead."
                            : $"Send one result for each call the conversation waits for: {string.Join(", ", calls.Select(c => c.CallId))}.");
                turn.ContinueWith(calls, results);
            }
            return turn;
        }
        catch
        {
            lease.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Functions a client offers go to the agent that answers (on a continued conversation, the conversation's agent):
    /// not to a workflow, whose members use their own tools, and never under the name of one of the agent's tools. The
    /// results a client sends back are bounded like a message.
    /// </summary>
    void CheckClientTools(TurnRequest request, AgentDefinition agent)
    {
        if (request.ClientToolResults is { } results && results.Sum(r => Tokens.Count(r.Result as string ?? "")) is var size && size > options.Value.HistoryTokenLimit)
            throw new ApiProblemException(413, ProblemTypes.MessageTooLarge, "Tool results too large",
                $"The tool results are {size} tokens; this service sends at most {options.Value.HistoryTokenLimit} tokens of conversation (Conversations:HistoryTokenLimit). Shorten them.");
        if (request.ClientTools.Count == 0) return;
        if (agent.Workflow is not null)
            throw new ApiValidationException("tools", $"'{agent.Id}' is a workflow: its members use their own tools, so client functions can only be offered to an agent.");
        var taken = tools.Resolve(agent.EffectiveTools).Select(t => t.Name).ToHashSet();
        if (request.ClientTools.Select(t => t.Name).FirstOrDefault(taken.Contains) is { } clash)
            throw new ApiValidationException("tools", $"Agent '{agent.Id}' has a tool named '{clash}' already; give the client's function another name.");
    }

    /// <summary>
    /// A stateless client's transcript as the history of the conversation it starts: the newest messages that fit the
    /// history window, as for a stored conversation (older ones are left out, not cut).
    /// </summary>
    HistoryWindow ClientHistory(TurnRequest request)
    {
        var room = options.Value.HistoryTokenLimit - Tokens.Count(request.Content);
        var kept = new List<ChatMessage>();
        for (var i = request.Transcript.Count - 1; i >= 0 && kept.Count < options.Value.HistoryLimit; i--)
        {
            room -= Tokens.Count(request.Transcript[i]);
            if (room < 0) break;
            kept.Add(request.Transcript[i]);
        }
        kept.Reverse();
        // A tool result whose call was left out would be refused by the provider: the window starts after it.
        while (kept.Count > 0 && kept[0].Role == ChatRole.Tool) kept.RemoveAt(0);
        return new HistoryWindow(kept, null, null, false);
    }

    /// <summary>The client-side calls the conversation's last turn ended with, if that is where it stopped.</summary>
    async Task<IReadOnlyList<FunctionCallContent>> WaitingClientCallsAsync(string conversationId, CancellationToken cancellationToken)
    {
        var last = await db.Messages.AsNoTracking().Where(m => m.ConversationId == conversationId).OrderByDescending(m => m.Sequence)
            .Select(m => new { m.FinishReason, m.Metadata }).FirstOrDefaultAsync(cancellationToken);
        if (last is not { FinishReason: TurnEnd.ClientToolCallsPending, Metadata: { } metadata }) return [];
        var calls = JsonNode.Parse(metadata)?["clientToolCalls"]?.Deserialize<List<ClientToolCallDto>>(Json) ?? [];
        return calls.Select(c => c.ToContent()).ToList();
    }

    /// <summary>
    /// Reopens the conversation a held tool call stopped, to continue it once a human has decided. The turn is the
    /// conversation owner's (charged to and audited as that key); the approver is recorded on the approval. When the owner
    /// is not a key this installation knows (the conversation predates keys), the approver is charged: never nobody.
    /// </summary>
    public async Task<Turn> BeginResumeAsync(Approval approval, Caller approver, CancellationToken cancellationToken)
    {
        if (drain.IsDraining) throw TurnShutdown.Refused();
        var lease = await gate.TryEnterAsync(approval.ConversationId) ?? throw Busy(approval.ConversationId);
        try
        {
            var conversation = await db.Conversations.FirstOrDefaultAsync(c => c.Id == approval.ConversationId, cancellationToken)
                ?? throw Problems.ConversationNotFound(approval.ConversationId);
            var agent = (await agents.FindAsync(approval.AgentId, cancellationToken))?.Definition ?? throw Problems.AgentNotFound(approval.AgentId);
            var owner = conversation.OwnerKeyId is { } ownerId && await db.ApiKeys.AsNoTracking().FirstOrDefaultAsync(k => k.Id == ownerId, cancellationToken) is { } key
                ? Caller.From(key)
                : approver;
            // The held tool runs before the agent's next model call: refuse now, while the approval can still be decided
            // again, rather than after a refund went out.
            await budget.EnsureRoomAsync(owner, agent.MaxOutputTokens ?? budget.DefaultMaxOutputTokens, cancellationToken);
            var window = await LoadHistoryAsync(conversation, agent, cancellationToken);
            var turn = new Turn(conversation, false, null, owner, lease, agent, models.Resolve(agent.Model), window.Messages, shutdown.Token, window.Tokens);
            turn.Summarize(window.Summary, window.SummaryUpdate, window.SummaryIsNew);
            return turn;
        }
        catch
        {
            lease.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The turn the next message (or, without one, the last) would start, without admitting it or writing anything: for
    /// showing what its context would be. A conversation waiting for an approval can be previewed too.
    /// </summary>
    public async Task<Turn> PreviewAsync(string conversationId, string? message, Caller caller, CancellationToken cancellationToken)
    {
        var conversation = await db.Conversations.AsNoTracking().FirstOrDefaultAsync(c => c.Id == conversationId, cancellationToken);
        if (conversation is null || !conversation.CanSee(caller, security.Value)) throw Problems.ConversationNotFound(conversationId);
        var agent = (await agents.FindAsync(conversation.AgentId, cancellationToken))?.Definition ?? throw Problems.AgentNotFound(conversation.AgentId);
        var window = await LoadHistoryAsync(conversation, agent, cancellationToken);
        var request = message is null ? null : new TurnRequest(conversationId, message, null, conversation.UserId, caller);
        var turn = new Turn(conversation, false, request, caller, NoLease.Instance, agent, models.Resolve(agent.Model), window.Messages, CancellationToken.None, window.Tokens);
        turn.Summarize(window.Summary, null, false);
        return turn;
    }

    /// <summary>A preview holds no place in the conversation's queue.</summary>
    sealed class NoLease : IDisposable
    {
        public static readonly NoLease Instance = new();

        public void Dispose()
        {
        }
    }

    Conversation NewConversation(string id, TurnRequest request)
    {
        var now = time.GetUtcNow();
        return new Conversation
        {
            Id = id, AgentId = request.AgentId ?? options.Value.DefaultAgent, UserId = request.UserId, CreatedAt = now, UpdatedAt = now,
            OwnerKeyId = request.Caller.KeyId, EvalRunId = request.EvalRunId, PersonalityOverride = request.PersonalityOverride,
        };
    }

    async Task<Conversation> LoadAsync(string id, Caller caller, CancellationToken cancellationToken)
    {
        // One round trip for the conversation and whether it waits for an approval (the entity is tracked all the same).
        var found = await db.Conversations.Where(c => c.Id == id)
            .Select(c => new { Conversation = c, Waiting = db.Approvals.Any(a => a.ConversationId == id && a.Status == ApprovalStatus.Pending) })
            .FirstOrDefaultAsync(cancellationToken);
        var conversation = found?.Conversation;
        if (conversation is null || !conversation.CanSee(caller, security.Value)) throw Problems.ConversationNotFound(id);
        if (found!.Waiting)
            throw new ApiProblemException(409, ProblemTypes.ApprovalPending, "Approval pending",
                $"Conversation '{id}' is waiting for a human to approve or reject a tool call; it continues once that is decided.");
        return conversation;
    }

    /// <summary>The history a turn starts from: the newest messages, and the rolling summary of the older ones.</summary>
    sealed record HistoryWindow(List<ChatMessage> Messages, string? Summary, ConversationSummary? SummaryUpdate, bool SummaryIsNew,
        IReadOnlyList<(string Role, string Content)>? Folded = null, string? PreviousSummary = null)
    {
        public static HistoryWindow Empty => new([], null, null, false);

        /// <summary>Each message's tokens, as stored with it or counted when read.</summary>
        public IReadOnlyDictionary<ChatMessage, int>? Tokens { get; init; }
    }

    /// <summary>Most messages folded into the summary in one turn: a summary has room for fewer lines than this anyway.</summary>
    const int MaxFold = 200;

    /// <summary>
    /// The newest messages that carry text, oldest first, within the message and token limits; reads one index range
    /// however long the conversation is. When older messages are left out, the rolling summary stands in for them (one
    /// more read), extended with those that fell out since it was written (one more, only then).
    /// </summary>
    async Task<HistoryWindow> LoadHistoryAsync(Conversation conversation, AgentDefinition agent, CancellationToken cancellationToken)
    {
        // A greeting the client wrote is shown to the user but never replayed as the agent's own words: the model reads
        // it only as fenced data in the system prompt (Agents/SystemPrompt.cs).
        var skipGreeting = ClientWroteGreeting(conversation, agent);
        var conversationId = conversation.Id;
        var recent = await db.Messages.AsNoTracking()
            .Where(m => m.ConversationId == conversationId && (m.Role == MessageRoles.User || m.Role == MessageRoles.Assistant) && m.Content != "")
            .Where(m => !skipGreeting || m.FinishReason != "greeting")
            .OrderByDescending(m => m.Sequence)
            .Take(options.Value.HistoryLimit)
            .Select(m => new { m.Role, m.Content, m.Sequence, m.Tokens, FromClient = m.Metadata != null && m.Metadata.Contains(ClientSourceMarker) })
            .ToListAsync(cancellationToken);
        var history = new List<ChatMessage>(recent.Count);
        var counts = new Dictionary<ChatMessage, int>(recent.Count, ReferenceEqualityComparer.Instance);
        var tokens = 0;
        var firstKept = conversation.LastSequence + 1;
        foreach (var message in recent)
        {
            // What a client said the agent said (a stateless request's history) stays the client's claim: fenced.
            var chat = message.Role == MessageRoles.User ? new ChatMessage(ChatRole.User, message.Content)
                : new ChatMessage(ChatRole.Assistant, message.FromClient ? Context.UntrustedData.Wrap(Context.UntrustedData.ClientTranscript, message.Content) : message.Content);
            // The count stored with the message, when the window sends it as it was stored (a fenced claim is counted here).
            var count = message.Tokens is { } stored && !message.FromClient ? stored : Tokens.Count(chat);
            tokens += count;
            if (tokens > options.Value.HistoryTokenLimit) break; // older messages than this one are left out too: no gaps
            history.Add(chat);
            counts[chat] = count;
            firstKept = message.Sequence;
        }
        history.Reverse();
        var leftOut = history.Count < recent.Count || (recent.Count == options.Value.HistoryLimit && recent[^1].Sequence > 1);
        if (!leftOut) return new HistoryWindow(history, null, null, false) { Tokens = counts };

        var summary = await db.ConversationSummaries.AsNoTracking().FirstOrDefaultAsync(s => s.ConversationId == conversationId, cancellationToken);
        var through = summary?.ThroughSequence ?? 0;
        if (through >= firstKept - 1) return new HistoryWindow(history, summary!.Text, null, false) { Tokens = counts };
        var fallen = await db.Messages.AsNoTracking()
            .Where(m => m.ConversationId == conversationId && m.Sequence > through && m.Sequence < firstKept)
            .Where(m => (m.Role == MessageRoles.User || m.Role == MessageRoles.Assistant) && m.Content != "")
            .OrderByDescending(m => m.Sequence).Take(MaxFold)
            .Select(m => new { m.Role, m.Content }).ToListAsync(cancellationToken);
        fallen.Reverse();
        var folded = fallen.Select(m => (m.Role, m.Content)).ToList();
        var text = RollingSummary.Extend(summary?.Text, folded, options.Value.SummaryTokenLimit);
        var update = new ConversationSummary
        {
            ConversationId = conversationId, Text = text, ThroughSequence = firstKept - 1, Messages = (summary?.Messages ?? 0) + fallen.Count,
            Method = RollingSummary.Method, UpdatedAt = time.GetUtcNow(),
        };
        return new HistoryWindow(history, text, update, summary is null, folded, summary?.Text) { Tokens = counts };
    }

    /// <summary>The metadata of a message a client sent as part of its own copy of the conversation (Conversations/Turn.cs).</summary>
    internal const string ClientSourceMarker = "\"source\":\"client\"";

    static bool ClientWroteGreeting(Conversation conversation, AgentDefinition agent) =>
        conversation.PersonalityOverride is { } stored && JsonSerializer.Deserialize<Personality>(stored, Json)?.Greeting is { } greeting
        && !agent.Personality.IsChoice("greeting", greeting);

    /// <summary>
    /// The one writer of a turn: in one transaction it stores the messages (the last carrying the model facts), the
    /// conversation, the held approval, the tool calls' ledger rows, the audit events derived from the turn's decisions
    /// and facts, and completes the client's Idempotency-Key with the result. A turn that failed before producing
    /// anything stores only its audit events and frees the key (the client may retry it); it returns null. Runs without
    /// cancellation: once the model has answered, a client that disconnects must not lose the turn.
    /// </summary>
    public async Task<TurnDto?> CommitAsync(Turn turn)
    {
        var end = turn.End ?? throw new InvalidOperationException("A turn is committed once it has ended.");
        var keep = !(end.Failure is not null && !turn.ProducedAnything);
        var stored = keep ? Stage(turn, end) : [];
        var superseded = keep ? StageMemories(turn) : [];
        var dto = keep ? TurnDto.From(turn, stored) : null;
        db.AuditOutbox.AddRange(TurnAudit.Events(turn, audit));
        try
        {
            // Written together with the turns that finish while another commit holds SQLite's write lock (Data/SqliteWriteGate.cs).
            await db.CommitTogetherAsync(async () =>
            {
                await db.SaveChangesAsync(CancellationToken.None);
                foreach (var (old, replacement) in superseded)
                    await Memory.UserMemories.SupersedeAsync(db, turn.Conversation.UserId!, old, replacement, time.GetUtcNow(), CancellationToken.None);
                if (turn.Idempotency is { } key)
                {
                    if (dto is null) await idempotency.ReleaseAsync(key);
                    else await idempotency.CompleteAsync(key, dto);
                }
            });
        }
        catch (DbUpdateConcurrencyException)
        {
            db.ChangeTracker.Clear();
            throw new ApiProblemException(409, ProblemTypes.ConversationBusy, "Conversation changed",
                $"Conversation '{turn.Conversation.Id}' was changed or deleted by another request during this turn; reload it and retry.");
        }
        if (keep && turn.Remembered.Count > 0 && turn.Conversation.UserId is { } userId) await snapshots.InvalidateAsync(Memory.UserMemories.CacheKey(userId));
        return dto;
    }

    /// <summary>The facts the agent saved, as memories of the conversation's user learned from this turn's message; returns which old ones they replace.</summary>
    List<(string Old, string New)> StageMemories(Turn turn)
    {
        if (turn.Remembered.Count == 0 || turn.Conversation.UserId is not { } userId) return [];
        var replaced = new List<(string, string)>();
        foreach (var note in turn.Remembered)
        {
            var memory = new Memory.UserMemory
            {
                Id = Ids.New(Memory.UserMemories.IdPrefix), UserId = userId, AgentId = note.Owner, Text = note.Text,
                Author = Memory.MemoryAuthors.Agent, ConversationId = turn.Conversation.Id, MessageId = turn.UserMessage?.Id, KeyId = turn.Caller.KeyId,
                CreatedAt = time.GetUtcNow(),
            };
            Memory.UserMemories.Stage(db, memory, note.Vector, memories.EmbeddingModel);
            if (note.Replaces is { } old) replaced.Add((old, memory.Id));
        }
        return replaced;
    }

    /// <summary>Adds what the turn produced to the unit of work; returns its messages in order.</summary>
    List<Message> Stage(Turn turn, TurnEnd end)
    {
        var now = time.GetUtcNow();
        var conversation = turn.Conversation;
        var stored = turn.Produced.ToList();

        // Every turn ends with one assistant message carrying the model facts, even when the model said nothing.
        var last = stored[^1].Role == MessageRoles.Assistant ? stored[^1] : null;
        if (last is null) stored.Add(last = turn.NewMessage(MessageRoles.Assistant, ""));
        last.Model = turn.Model.Name;
        last.InputTokens = (int)turn.InputTokens;
        last.OutputTokens = (int)turn.OutputTokens;
        last.LatencyMs = (int)turn.Elapsed.TotalMilliseconds;
        last.FinishReason = end.FinishReason;
        last.Status = end.IsInterruption ? MessageStatus.Interrupted : MessageStatus.Completed;
        // The calls the client runs itself: the next request's results are matched against them.
        if (end.ClientToolCalls is { } clientCalls)
        {
            var metadata = last.Metadata is null ? new JsonObject() : JsonNode.Parse(last.Metadata)!.AsObject();
            metadata["clientToolCalls"] = JsonSerializer.SerializeToNode(clientCalls.Select(ClientToolCallDto.From).ToList(), Json);
            last.Metadata = metadata.ToJsonString();
        }

        var sequence = conversation.LastSequence;
        foreach (var message in turn.Prelude)
        {
            message.Sequence = ++sequence;
            message.CreatedAt = now;
        }
        db.Messages.AddRange(turn.Prelude);
        foreach (var message in stored)
        {
            message.Sequence = ++sequence;
            message.CreatedAt = now;
            message.Tokens = turn.HistoryTokensOf(message);
            if (turn.DecisionsFor(message) is { Count: > 0 } decisions)
            {
                var metadata = message.Metadata is null ? new JsonObject() : JsonNode.Parse(message.Metadata)!.AsObject();
                metadata["rules"] = JsonSerializer.SerializeToNode(decisions, Json);
                message.Metadata = metadata.ToJsonString();
            }
        }
        conversation.LastSequence = sequence;
        conversation.UpdatedAt = now;
        conversation.AgentId = turn.ConversationAgentId;
        if (turn.IsNew) db.Conversations.Add(conversation);
        db.Messages.AddRange(stored);
        if (end.PendingApproval is { } held)
        {
            // An eval's held call is the result it asserts on, not a decision for anyone to make.
            if (turn.IsEval) held.Status = Approvals.ApprovalStatus.Eval;
            db.Approvals.Add(held);
        }
        if (turn.SummaryUpdate is { } summary)
        {
            if (turn.SummaryIsNew) db.ConversationSummaries.Add(summary);
            else db.ConversationSummaries.Update(summary);
        }
        // An eval's calls ran dry: the ledger (and every cap counted from it) is for calls that acted.
        foreach (var (row, reserved) in turn.IsEval ? [] : turn.ToolCalls)
        {
            if (!reserved)
            {
                db.ToolCalls.Add(row);
                continue;
            }
            // Reserved before the tool ran: the row is there; the commit says how the call ended.
            db.ToolCalls.Attach(row);
            db.Entry(row).Property(c => c.Outcome).IsModified = true;
            db.Entry(row).Property(c => c.MessageId).IsModified = true;
        }
        return stored;
    }

    static ApiProblemException Busy(string conversationId) =>
        new(409, ProblemTypes.ConversationBusy, "Conversation busy",
            $"Conversation '{conversationId}' is already answering another message; wait for that turn to finish, then retry.")
        { RetryAfter = TimeSpan.FromSeconds(1) };
}
