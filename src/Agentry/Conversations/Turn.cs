using System.Diagnostics;
using System.Text.Json;
using Agentry.Agents;
using Agentry.Data;
using Agentry.Models;
using Agentry.Rules;
using Agentry.Security;
using Agentry.Tools;
using Microsoft.Extensions.AI;

namespace Agentry.Conversations;

/// <summary>How a turn ended. The first end reached wins; later ones (a finish after a failure) are ignored.</summary>
public sealed record TurnEnd(string FinishReason, Exception? Failure = null, Approvals.Approval? PendingApproval = null,
    IReadOnlyList<FunctionCallContent>? ClientToolCalls = null)
{
    public const string ClientDisconnected = "client_disconnected";
    /// <summary>The model called functions the client runs itself: the client continues the turn with their results.</summary>
    public const string ClientToolCallsPending = "tool_calls";
    public const string Shutdown = "shutdown";
    public const string Error = "error";
    /// <summary>The finish reason of a turn that stopped at a held tool call.</summary>
    public const string HeldForApproval = TurnDto.PendingApproval;

    /// <summary>Cut short by a failure, the client leaving or the service stopping: what was produced is kept, marked interrupted.</summary>
    public bool IsInterruption => Failure is not null || FinishReason is ClientDisconnected or Shutdown;
}

/// <summary>A handoff within a turn: recorded as a message, an SSE event, a metric and a span event.</summary>
public sealed record Handoff(string From, string To, string Reason, string Mode, double? Score = null);

/// <summary>A rule's decision during a turn, by the agent whose rules made it.</summary>
public sealed record TurnDecision(string AgentId, RuleDecision Decision);

/// <summary>
/// Something a turn did that the audit log records beyond its rule decisions: an escalation to a person, a tool's side
/// effect (a refund filed), a human's decision on a held call. Stored with the turn, in the same transaction.
/// </summary>
public sealed record TurnAuditFact(Audit.AuditActor Actor, string Action, string Target, string Outcome, object? Detail);

/// <summary>A tool call of this turn as the ledger keeps it; <see cref="Reserved"/> rows were stored before the tool ran.</summary>
public sealed record TurnToolCall(ToolCall Row, bool Reserved);

/// <summary>
/// One turn as it happens: what it started from (conversation, caller, history window), the agent answering now, and
/// what it has produced so far. Steps read it and add to it through its methods; <see cref="TurnStore"/> commits it once.
/// </summary>
public sealed class Turn : IDisposable
{
    readonly List<Message> _produced = [];
    readonly List<Message> _prelude = [];
    readonly Dictionary<Message, ChatMessage> _preludeSources = new(ReferenceEqualityComparer.Instance);
    // The user's message and the replies as a later turn's history window sends them, so the commit stores their counts.
    readonly Dictionary<Message, ChatMessage> _said = new(ReferenceEqualityComparer.Instance);
    // The tokens of the messages and tool declarations this turn's model calls send (each call of a tool round sends them
    // again), starting with the history window's, stored with its messages: each counted once, if at all.
    readonly Dictionary<object, int> _tokens = new(ReferenceEqualityComparer.Instance);
    readonly List<ChatMessage> _history;
    readonly int _userIndex = -1;
    /// <summary>Messages of <see cref="_produced"/> that are the client's input (its message, or its tools' results), not output.</summary>
    int _inputCount;
    readonly List<TurnDecision> _decisions = [];
    readonly Dictionary<Message, List<RuleDecision>> _annotations = new(ReferenceEqualityComparer.Instance);
    readonly List<TurnAuditFact> _audit = [];
    readonly List<TurnToolCall> _toolCalls = [];
    readonly Dictionary<(string Model, string Agent), (long Input, long Output)> _usage = [];
    readonly IDisposable _lease;

    public Turn(Conversation conversation, bool isNew, TurnRequest? request, Caller caller, IDisposable lease, AgentDefinition agent, ResolvedModel model,
        List<ChatMessage> history, CancellationToken serviceStopping, IReadOnlyDictionary<ChatMessage, int>? historyTokens = null)
    {
        Conversation = conversation;
        IsNew = isNew;
        Caller = caller;
        TraceId = request?.TraceId;
        Idempotency = request?.Idempotency;
        _lease = lease;
        Agent = agent;
        Model = model;
        _history = history;
        if (historyTokens is not null) foreach (var (message, tokens) in historyTokens) _tokens[message] = tokens;
        ServiceStopping = serviceStopping;
        ClientInstructions = request?.ClientInstructions;
        Sampling = request?.Sampling;
        ClientTools = request?.ClientTools ?? [];
        ModelOverride = request?.ModelOverride;
        DeclaredToolResults = request?.DeclaredToolResults ?? new Dictionary<string, string>();
        if (request is not null && isNew)
            foreach (var said in request.Transcript.Where(m => m.Role == ChatRole.User || m.Role == ChatRole.Assistant).Where(m => m.Text.Length > 0))
            {
                // Stored as the client wrote it: an assistant's words are fenced only on their way to a model.
                var message = NewMessage(said.Role == ChatRole.User ? MessageRoles.User : MessageRoles.Assistant, Context.UntrustedData.Unwrap(said.Text));
                message.Metadata = "{" + TurnStore.ClientSourceMarker + "}";
                _prelude.Add(message);
                _preludeSources[message] = said;
            }
        if (request is not null && !request.ContinuesClientTools)
        {
            UserMessage = NewMessage(MessageRoles.User, request.Content);
            _produced.Add(UserMessage);
            _inputCount = 1;
            _userIndex = _history.Count;
            _history.Add(_said[UserMessage] = new ChatMessage(ChatRole.User, request.Content));
        }
    }

    /// <summary>The client application's system message for this turn (fenced by <see cref="Context.InstructionsContext"/>).</summary>
    public string? ClientInstructions { get; }
    public Models.SamplingSettings? Sampling { get; }
    /// <summary>Functions the client runs itself; a call to one ends the turn with <see cref="TurnEnd.ClientToolCallsPending"/>.</summary>
    public IReadOnlyList<AIFunctionDeclaration> ClientTools { get; }

    /// <summary>What the client said before this turn in a stateless request: stored ahead of the turn, in a new conversation only.</summary>
    public IReadOnlyList<Message> Prelude => _prelude;

    /// <summary>An input rule rewrote a user message of the client's transcript (redaction): stored so, and so in the history models see.</summary>
    public void RewritePrelude(Message message, string text)
    {
        message.Content = text;
        if (_preludeSources.TryGetValue(message, out var said))
        {
            var index = _history.FindIndex(m => ReferenceEquals(m, said));
            if (index >= 0) _history[index] = _preludeSources[message] = new ChatMessage(ChatRole.User, text);
        }
    }

    /// <summary>The client's calls and their results this turn continues with (the model reads them before it answers).</summary>
    public Context.ToolRound? ClientToolRound { get; private set; }

    /// <summary>
    /// The turn continues from client-side tool calls: their results are its input (stored as tool messages, fenced for
    /// the model as any tool result), in place of a user message.
    /// </summary>
    public void ContinueWith(IReadOnlyList<FunctionCallContent> calls, IReadOnlyList<FunctionResultContent> results)
    {
        var fenced = new List<AIContent>(results.Count);
        foreach (var result in results)
        {
            var call = calls.First(c => c.CallId == result.CallId);
            var text = result.Result as string ?? "";
            var message = NewMessage(MessageRoles.Tool, text);
            message.Metadata = JsonSerializer.Serialize(new { toolName = call.Name, callId = call.CallId, arguments = call.Arguments, outcome = ClientToolOutcome });
            _produced.Add(message);
            _clientResults[call.CallId] = message;
            _inputCount++;
            fenced.Add(new FunctionResultContent(call.CallId, Context.UntrustedData.Wrap($"tool {call.Name}", text)));
        }
        ClientToolRound = new Context.ToolRound(calls, fenced);
    }

    /// <summary>An input rule (checkToolResults) withheld or rewrote what a client's function returned: stored so, and so the model reads it.</summary>
    public void ReviseClientResult(string callId, string text, IReadOnlyList<RuleDecision> decisions)
    {
        if (ClientToolRound is not { } round) return;
        var call = round.Calls.First(c => c.CallId == callId);
        var message = ClientResultOf(callId);
        message.Content = text;
        if (decisions.Count > 0) Annotate(message, decisions);
        ClientToolRound = round with
        {
            Results = round.Results.Select(r => r is FunctionResultContent result && result.CallId == callId
                ? new FunctionResultContent(callId, Context.UntrustedData.Wrap($"tool {call.Name}", text)) : r).ToList(),
        };
    }

    /// <summary>The stored message of what the client's function returned for <paramref name="callId"/> this turn.</summary>
    public Message ClientResultOf(string callId) => _clientResults[callId];

    readonly Dictionary<string, Message> _clientResults = [];

    /// <summary>The outcome stored with a result the client's own tool returned.</summary>
    public const string ClientToolOutcome = "client";

    /// <summary>The model called the client's functions: the turn ends here and the client runs them.</summary>
    public void AwaitClient(IReadOnlyList<FunctionCallContent> calls) => End ??= new TurnEnd(TurnEnd.ClientToolCallsPending, ClientToolCalls: calls);

    public Conversation Conversation { get; }
    public bool IsNew { get; }

    /// <summary>
    /// A turn of an eval run (Evals/): tools with side effects run dry (<see cref="Tools.ToolExecution"/>), nothing enters
    /// the tool ledger, a held approval waits in no one's queue, and analytics and usage figures leave it out.
    /// </summary>
    public bool IsEval => Conversation.EvalRunId is not null;

    /// <summary>The model every agent of this turn uses instead of its own (an eval comparing models), or null.</summary>
    public string? ModelOverride { get; }

    /// <summary>The model an agent answers with in this turn.</summary>
    public string? ModelFor(AgentDefinition agent) => ModelOverride ?? agent.Model;

    /// <summary>The results an eval case declared for dry-run tools, by tool name.</summary>
    public IReadOnlyDictionary<string, string> DeclaredToolResults { get; }
    /// <summary>Who the turn is charged to and audited as: the request's key, or for a continued turn the conversation's owner.</summary>
    public Caller Caller { get; }
    public string? TraceId { get; }
    /// <summary>The client's Idempotency-Key for this turn: the commit completes it (or frees it when nothing was produced).</summary>
    public IdempotencyKey? Idempotency { get; }
    /// <summary>Cancelled when the service shuts down (after the configured grace), so a turn ends with the right reason.</summary>
    public CancellationToken ServiceStopping { get; }
    public long StartedTimestamp { get; } = Stopwatch.GetTimestamp();
    public TimeSpan Elapsed => Stopwatch.GetElapsedTime(StartedTimestamp);

    /// <summary>The user's message; null when the turn continues a tool call a human approved or rejected.</summary>
    public Message? UserMessage { get; }
    public bool IsUserTurn => UserMessage is not null;

    /// <summary>The agent answering now; changes only through <see cref="SwitchTo"/>.</summary>
    public AgentDefinition Agent { get; private set; }
    public ResolvedModel Model { get; private set; }
    /// <summary>The handoff that brought <see cref="Agent"/> into this turn, if any.</summary>
    public Handoff? ArrivedBy { get; private set; }
    /// <summary>The agent the conversation stays with afterwards when that is not the last speaker (a workflow).</summary>
    public string ConversationAgentId => _staysWith ?? Agent.Id;
    string? _staysWith;

    /// <summary>The conversation's text as every agent of this turn sees it: the history window, the user's message and the replies so far.</summary>
    public IReadOnlyList<ChatMessage> History => _history;

    /// <summary>
    /// What retrieval for this turn is about: the user's message as the input rules left it (redacted, say), or, on a turn
    /// resumed after an approval, the last user message of the history.
    /// </summary>
    public string Question => UserMessage?.Content ?? _history.LastOrDefault(m => m.Role == ChatRole.User)?.Text ?? "";
    public IReadOnlyList<Message> Produced => _produced;

    /// <summary>
    /// What a message of this turn will cost in a later turn's history window (see <see cref="Message.Tokens"/>); null for
    /// messages the window does not send as they are (tool results, hand-offs).
    /// </summary>
    public int? HistoryTokensOf(Message message) => _said.TryGetValue(message, out var said) ? TokensOf(said) : null;

    /// <summary>A message's tokens: as stored with the history window's messages, otherwise counted once a turn.</summary>
    public int TokensOf(ChatMessage message) => CountOnce(message, static m => Models.Tokens.Count((ChatMessage)m));

    /// <summary>A tool declaration's tokens, counted once a turn.</summary>
    public int TokensOf(AITool tool) => CountOnce(tool, static t => Models.Tokens.Count((AITool)t));

    int CountOnce(object item, Func<object, int> count)
    {
        // A turn's model calls run one after another; the lock is for whatever may not (uncontended, it costs little).
        lock (_tokens)
        {
            if (!_tokens.TryGetValue(item, out var tokens)) _tokens[item] = tokens = count(item);
            return tokens;
        }
    }
    /// <summary>Whether anything beyond the user's message exists that a commit must keep.</summary>
    public bool ProducedAnything => _produced.Count > _inputCount;
    public int Hops { get; private set; }
    /// <summary>Tool calls that ran or were answered for the model this turn (the per-turn limit counts these).</summary>
    public int ToolCallCount { get; private set; }
    public long InputTokens { get; private set; }
    public long OutputTokens { get; private set; }
    public TurnEnd? End { get; private set; }
    public bool Ended => End is not null;

    public void SwitchTo(AgentDefinition agent, ResolvedModel model, Handoff? handoff)
    {
        if (handoff is not null)
        {
            var message = NewMessage(MessageRoles.Handoff, $"Transferred from {handoff.From} to {handoff.To}: {handoff.Reason}", handoff.To);
            message.Metadata = JsonSerializer.Serialize(new { from = handoff.From, to = handoff.To, reason = handoff.Reason, mode = handoff.Mode });
            _produced.Add(message);
            Hops++;
        }
        Agent = agent;
        Model = model;
        ArrivedBy = handoff;
    }

    /// <summary>A workflow answers through its members but keeps the conversation.</summary>
    public void KeepConversationWith(string agentId) => _staysWith = agentId;

    /// <summary>An input rule rewrote the user's message (redaction): what is stored and what every model sees.</summary>
    public void RewriteUserMessage(string text)
    {
        UserMessage!.Content = text;
        _history[_userIndex] = _said[UserMessage] = new ChatMessage(ChatRole.User, text);
    }

    /// <summary>The rolling summary of the messages older than the history window (null while everything fits).</summary>
    public string? Summary { get; private set; }
    /// <summary>The summary extended with the messages that fell out of the window since it was written; stored with the turn.</summary>
    public ConversationSummary? SummaryUpdate { get; private set; }
    public bool SummaryIsNew { get; private set; }

    /// <summary>The messages folded into <see cref="SummaryUpdate"/> this turn, and the summary they were folded into.</summary>
    public IReadOnlyList<(string Role, string Content)> Folded { get; private set; } = [];
    public string? PreviousSummary { get; private set; }

    public void Summarize(string? summary, ConversationSummary? update, bool isNew, IReadOnlyList<(string Role, string Content)>? folded = null, string? previous = null)
    {
        Summary = summary;
        SummaryUpdate = update;
        SummaryIsNew = isNew;
        Folded = folded ?? [];
        PreviousSummary = previous;
    }

    /// <summary>A model rewrote the summary being extended this turn.</summary>
    public void Resummarize(string text, string method)
    {
        if (SummaryUpdate is not { } update) return;
        update.Text = text;
        update.Method = method;
        Summary = text;
    }

    /// <summary>
    /// What the agent answering now was given from outside the conversation: knowledge passages (its replies cite them by
    /// number) and the user's memories (each reply records which it had).
    /// </summary>
    public void Consult(IReadOnlyList<Knowledge.KnowledgeSource> sources, IReadOnlyList<Memory.RecalledMemory> memories)
    {
        _sources = sources;
        _memories = memories;
    }

    IReadOnlyList<Knowledge.KnowledgeSource> _sources = [];
    IReadOnlyList<Memory.RecalledMemory> _memories = [];
    readonly List<Memory.MemoryNote> _remembered = [];

    /// <summary>Facts the agent saved about the user during this turn; stored with it.</summary>
    public IReadOnlyList<Memory.MemoryNote> Remembered => _remembered;

    public void Remember(Memory.MemoryNote note) => _remembered.Add(note);

    static readonly JsonSerializerOptions MetadataJson = new(JsonSerializerDefaults.Web) { DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull };

    public Message AddReply(string text)
    {
        var message = NewMessage(MessageRoles.Assistant, text);
        // The sources it cites ([1], [2]) are kept with the reply: which document and section each number was.
        var cited = _sources.Where(s => text.Contains($"[{s.Number}]", StringComparison.Ordinal)).Select(s => s.Describe()).ToList();
        var memories = _memories.Select(m => m.Id).ToList();
        if (cited.Count > 0 || memories.Count > 0)
            message.Metadata = JsonSerializer.Serialize(new { citations = cited.Count > 0 ? cited : null, memories = memories.Count > 0 ? memories : null }, MetadataJson);
        _produced.Add(message);
        _history.Add(_said[message] = new ChatMessage(ChatRole.Assistant, text));
        return message;
    }

    /// <summary>
    /// What a tool call produced: its message (the result the model got), its rule decisions and its ledger row, which now
    /// points at the message and says how the call ended.
    /// </summary>
    public Message AddToolResult(FunctionCallContent call, ToolOutcome outcome, int maxStoredChars, IReadOnlyList<RuleDecision> decisions, TurnToolCall ledger)
    {
        var result = outcome.ResultForModel;
        var message = NewMessage(MessageRoles.Tool, result.Length <= maxStoredChars ? result : result[..maxStoredChars] + "…[truncated]");
        message.Metadata = JsonSerializer.Serialize(new
        {
            toolName = call.Name, callId = call.CallId, arguments = call.Arguments, outcome = outcome.Outcome, durationMs = outcome.DurationMs,
        });
        _produced.Add(message);
        if (decisions.Count > 0) Annotate(message, decisions);
        ledger.Row.Outcome = outcome.Outcome;
        ledger.Row.MessageId = message.Id;
        _toolCalls.Add(ledger);
        return message;
    }

    public void CountToolCall() => ToolCallCount++;

    /// <summary>The tool calls of this turn, for the ledger.</summary>
    public IReadOnlyList<TurnToolCall> ToolCalls => _toolCalls;

    /// <summary>The result a call of this turn returned, by its ledger id (a repeated call answers with it).</summary>
    public string? ToolResultOf(string ledgerId) =>
        _toolCalls.FirstOrDefault(c => c.Row.Id == ledgerId)?.Row.MessageId is { } messageId ? _produced.FirstOrDefault(m => m.Id == messageId)?.Content : null;

    /// <summary>Model responses of this turn that asked for tools, across agents and workflow members; returns the new count.</summary>
    public int CountToolRound() => ++ToolRounds;

    public int ToolRounds { get; private set; }

    public void AddUsage(UsageDetails? usage)
    {
        long input = usage?.InputTokenCount ?? 0, output = usage?.OutputTokenCount ?? 0;
        if (input == 0 && output == 0) return;
        InputTokens += input;
        OutputTokens += output;
        var key = (Model.Name, Agent.Id);
        var (i, o) = _usage.GetValueOrDefault(key);
        _usage[key] = (i + input, o + output);
    }

    /// <summary>Tokens by model and agent, for the outcome report (cost is per model).</summary>
    public IReadOnlyList<Observability.ModelUsage> Usage =>
        _usage.Select(u => new Observability.ModelUsage(u.Key.Model, u.Key.Agent, u.Value.Input, u.Value.Output)).ToList();

    /// <summary>A decision of a rule of the agent answering now, recorded when it is made: the commit audits every one.</summary>
    public void Decide(RuleDecision decision) => _decisions.Add(new TurnDecision(Agent.Id, decision));

    public IReadOnlyList<TurnDecision> Decisions => _decisions;

    /// <summary>Decisions shown with the message they concern (its <c>metadata.rules</c>).</summary>
    public void Annotate(Message message, IEnumerable<RuleDecision> decisions)
    {
        if (!_annotations.TryGetValue(message, out var list)) _annotations[message] = list = [];
        list.AddRange(decisions);
    }

    public IReadOnlyList<RuleDecision>? DecisionsFor(Message message) => _annotations.GetValueOrDefault(message);

    /// <summary>Records something the audit log must say about this turn; stored by the commit with everything else.</summary>
    public void Audit(Audit.AuditActor actor, string action, string target, string outcome, object? detail = null) =>
        _audit.Add(new TurnAuditFact(actor, action, target, outcome, detail));

    public IReadOnlyList<TurnAuditFact> AuditFacts => _audit;

    public void Finish(string finishReason) => End ??= new TurnEnd(finishReason);

    public void Fail(Exception failure) => End ??= new TurnEnd(TurnEnd.Error, failure);

    public void Interrupt(string reason) => End ??= new TurnEnd(reason);

    public void Hold(Approvals.Approval approval) => End ??= new TurnEnd(TurnEnd.HeldForApproval, PendingApproval: approval);

    public Message NewMessage(string role, string content, string? agentId = null) => new()
    {
        Id = Ids.New(Ids.MessagePrefix), ConversationId = Conversation.Id, Role = role, AgentId = agentId ?? Agent.Id, Content = content,
        AgentVersion = role == MessageRoles.Assistant && agentId is null ? Agent.Version : null, // which version of the agent said it
    };

    public void Dispose() => _lease.Dispose();
}
