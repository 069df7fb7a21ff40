using System.Text.Json;
using Agentry.Conversations;
using Agentry.Rules;

namespace Agentry.Evals;

/// <summary>A tool call as a turn made (or recorded, in the dry run) it: its name, the arguments the tool received and how it ended.</summary>
public sealed record ObservedToolCall(string Name, IReadOnlyDictionary<string, JsonElement> Arguments, string Outcome);

public sealed record ObservedCitation(string Document, string? Section);

/// <summary>
/// What one turn of an eval case did, read from the turn the service stored — the same record a real conversation
/// leaves — plus the time it took as the runner measured it: who answered, handoffs, tool calls, rule decisions, the reply.
/// </summary>
public sealed record TurnObservation(
    string AnsweredBy, string? AgentVersion, IReadOnlyList<string> Speakers, IReadOnlyList<(string From, string To)> Handoffs,
    IReadOnlyList<ObservedToolCall> ToolCalls, bool ApprovalPending, IReadOnlyList<RuleDecision> Rules, string Reply,
    IReadOnlyList<ObservedCitation> Citations, string Model, int InputTokens, int OutputTokens, double LatencyMs, double CostUsd, string Status)
{
    static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <summary>The conversation the turn was stored in (null when it failed before storing anything).</summary>
    public string? ConversationId { get; init; }

    /// <summary>A turn the service refused or failed (the problem's detail): every expectation of it fails with this reason.</summary>
    public string? Failure { get; init; }

    /// <param name="held">The call a rule or policy held for approval (it is on the approval, not among the turn's tool messages).</param>
    public static TurnObservation From(TurnDto turn, ObservedToolCall? held, double latencyMs, double cost)
    {
        var assistant = turn.Messages.Where(m => m.Role == MessageRoles.Assistant).ToList();
        var answering = assistant.LastOrDefault(m => m.Content.Length > 0) ?? assistant.LastOrDefault();
        var speakers = new List<string>();
        foreach (var m in assistant.Where(m => m.Content.Length > 0 && m.AgentId is not null))
            if (speakers.Count == 0 || speakers[^1] != m.AgentId) speakers.Add(m.AgentId!);
        var handoffs = turn.Messages.Where(m => m.Role == MessageRoles.Handoff && m.Metadata is { } md && md.TryGetProperty("from", out _))
            .Select(m => (m.Metadata!.Value.GetProperty("from").GetString() ?? "", m.Metadata.Value.GetProperty("to").GetString() ?? "")).ToList();
        var tools = turn.Messages.Where(m => m.Role == MessageRoles.Tool && m.Metadata is { } md && md.TryGetProperty("toolName", out _))
            .Select(m => new ObservedToolCall(m.Metadata!.Value.GetProperty("toolName").GetString() ?? "", Arguments(m.Metadata.Value),
                m.Metadata.Value.TryGetProperty("outcome", out var o) ? o.GetString() ?? "" : "")).ToList();
        if (held is not null) tools.Add(held);
        var rules = turn.Messages.Where(m => m.Metadata is { } md && md.TryGetProperty("rules", out _))
            .SelectMany(m => m.Metadata!.Value.GetProperty("rules").Deserialize<List<RuleDecision>>(Json) ?? []).ToList();
        var citations = assistant.Where(m => m.Metadata is { } md && md.TryGetProperty("citations", out _))
            .SelectMany(m => m.Metadata!.Value.GetProperty("citations").EnumerateArray())
            .Select(c => new ObservedCitation(c.TryGetProperty("document", out var d) ? d.GetString() ?? "" : "",
                c.TryGetProperty("section", out var s) && s.ValueKind == JsonValueKind.String ? s.GetString() : null)).ToList();
        return new TurnObservation(answering?.AgentId ?? turn.AgentId, answering?.AgentVersion, speakers, handoffs, tools, turn.Status == TurnDto.PendingApproval,
            rules, string.Join("\n", assistant.Select(m => m.Content).Where(c => c.Length > 0)), citations, turn.Model, turn.Usage.InputTokens, turn.Usage.OutputTokens,
            latencyMs, cost, turn.Status);
    }

    public static TurnObservation Failed(string reason, double latencyMs) =>
        new("", null, [], [], [], false, [], "", [], "", 0, 0, latencyMs, 0, "failed") { Failure = reason };

    /// <summary>The arguments as stored with the tool message (normalised to what the tool received).</summary>
    public static IReadOnlyDictionary<string, JsonElement> Arguments(JsonElement metadata) =>
        metadata.TryGetProperty("arguments", out var args) && args.ValueKind == JsonValueKind.Object
            ? args.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.Clone(), StringComparer.Ordinal)
            : new Dictionary<string, JsonElement>();

    public int Tokens => InputTokens + OutputTokens;
}
