using System.Text;
using System.Text.Json;
using Agentry.Conversations;

namespace Agentry.Evals;

/// <summary>
/// A real conversation (one a customer complained about, say) written as an eval case: its user messages as turns and
/// what happened after each as draft expectations — who answered, handoffs, tool calls with their arguments, rules,
/// approvals, citations — to be edited into what should have happened.
/// </summary>
public static class CaseDraft
{
    public static string Write(Conversation conversation, IReadOnlyList<Message> messages)
    {
        var yaml = new StringBuilder()
            .AppendLine($"# Drafted from conversation {conversation.Id}: the expectations are what happened, not yet what should.")
            .AppendLine("# Edit them into the right behaviour, then add the case to a suite's 'cases'.")
            .AppendLine($"- id: {Slug(conversation.Id)}")
            .AppendLine($"  description: {Quote($"From conversation {conversation.Id}")}")
            .AppendLine($"  agent: {messages.FirstOrDefault(m => m.Role == MessageRoles.User)?.AgentId ?? conversation.AgentId}");
        if (conversation.UserId is not null) yaml.AppendLine("  userId: customer   # the real user's id is left out; an eval's user is its own");
        yaml.AppendLine("  turns:");
        var users = messages.Select((m, i) => (m, i)).Where(p => p.m.Role == MessageRoles.User).Select(p => p.i).ToList();
        for (var t = 0; t < users.Count; t++)
        {
            var after = messages.Skip(users[t] + 1).Take((t + 1 < users.Count ? users[t + 1] : messages.Count) - users[t] - 1).ToList();
            yaml.AppendLine($"    - user: {Quote(messages[users[t]].Content)}");
            var expect = Expectations(messages[users[t]], after);
            if (expect.Count == 0) continue;
            yaml.AppendLine("      expect:");
            foreach (var line in expect) yaml.AppendLine($"        {line}");
        }
        return yaml.ToString();
    }

    static List<string> Expectations(Message user, List<Message> after)
    {
        var lines = new List<string>();
        var replies = after.Where(m => m.Role == MessageRoles.Assistant && m.Content.Length > 0).ToList();
        if (replies.LastOrDefault()?.AgentId is { } agent) lines.Add($"agent: {agent}");
        var handoffs = after.Where(m => m.Role == MessageRoles.Handoff && m.Metadata is not null).Select(m => JsonDocument.Parse(m.Metadata!).RootElement)
            .Where(h => h.TryGetProperty("from", out _)).Select(h => $"{h.GetProperty("from").GetString()}->{h.GetProperty("to").GetString()}").ToList();
        if (handoffs.Count > 0) lines.Add($"handoff: [{string.Join(", ", handoffs)}]");
        var tools = after.Where(m => m.Role == MessageRoles.Tool && m.Metadata is not null).Select(m => JsonDocument.Parse(m.Metadata!).RootElement)
            .Where(t => t.TryGetProperty("toolName", out _)).ToList();
        if (tools.Count > 0)
        {
            lines.Add("tool:");
            foreach (var tool in tools)
            {
                var arguments = TurnObservation.Arguments(tool).Where(a => a.Value.ValueKind is JsonValueKind.String or JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False)
                    .Select(a => $"{a.Key}: {(a.Value.ValueKind == JsonValueKind.String ? Quote(a.Value.GetString()!) : a.Value.GetRawText())}").ToList();
                lines.Add($"  - {{ name: {tool.GetProperty("toolName").GetString()}{(arguments.Count == 0 ? "" : $", args: {{ {string.Join(", ", arguments)} }}")} }}   # {Outcome(tool)}");
            }
        }
        var rules = new[] { user }.Concat(after).Where(m => m.Metadata is not null).Select(m => JsonDocument.Parse(m.Metadata!).RootElement)
            .Where(m => m.TryGetProperty("rules", out _)).SelectMany(m => m.GetProperty("rules").EnumerateArray())
            .Select(r => $"{{ id: {r.GetProperty("rule").GetString()}, action: {r.GetProperty("action").GetString()} }}").Distinct().ToList();
        if (rules.Count > 0) lines.Add($"rule: [{string.Join(", ", rules)}]");
        if (after.Any(m => m.FinishReason == TurnDto.PendingApproval)) lines.Add("approval: pending");
        var cited = replies.Where(m => m.Metadata is not null).Select(m => JsonDocument.Parse(m.Metadata!).RootElement)
            .Where(m => m.TryGetProperty("citations", out _)).SelectMany(m => m.GetProperty("citations").EnumerateArray())
            .Select(c => c.TryGetProperty("document", out var d) ? d.GetString() : null).OfType<string>().Distinct().ToList();
        if (cited.Count > 0) lines.Add($"cites: [{string.Join(", ", cited)}]");
        if (replies.LastOrDefault() is { } reply)
            lines.Add($"# the reply was: {Quote(reply.Content.Length > 200 ? reply.Content[..200] + "…" : reply.Content)}  (add contains/judge for what it must say)");
        return lines;
    }

    static string Outcome(JsonElement tool) => tool.TryGetProperty("outcome", out var outcome) ? $"it ended: {outcome.GetString()}" : "";

    /// <summary>A YAML double-quoted scalar (JSON's string syntax is valid YAML).</summary>
    static string Quote(string text) => JsonSerializer.Serialize(text.ReplaceLineEndings(" "));

    static string Slug(string conversationId) => "from-" + conversationId.ToLowerInvariant().Replace('_', '-')[^Math.Min(20, conversationId.Length)..].Trim('-');
}
