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

    /// <summary>What happened after a user message, read as an eval turn reads it (<see cref="TurnObservation"/>), as draft expectations.</summary>
    static List<string> Expectations(Message user, List<Message> after)
    {
        var messages = new[] { user }.Concat(after).Select(MessageDto.From).ToList();
        var held = after.Any(m => m.FinishReason == TurnDto.PendingApproval);
        var observed = TurnObservation.From(new TurnDto(user.ConversationId, user.AgentId ?? "", messages, new UsageDto(0, 0), "")
        { Status = held ? TurnDto.PendingApproval : TurnDto.Completed }, null, 0, 0);
        var lines = new List<string>();
        if (observed.Reply.Length > 0) lines.Add($"agent: {observed.AnsweredBy}");
        if (observed.Handoffs.Count > 0) lines.Add($"handoff: [{string.Join(", ", observed.Handoffs.Select(h => $"{h.From}->{h.To}"))}]");
        if (observed.ToolCalls.Count > 0)
        {
            lines.Add("tool:");
            foreach (var tool in observed.ToolCalls)
            {
                var arguments = tool.Arguments.Where(a => a.Value.ValueKind is JsonValueKind.String or JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False)
                    .Select(a => $"{a.Key}: {(a.Value.ValueKind == JsonValueKind.String ? Quote(a.Value.GetString()!) : a.Value.GetRawText())}").ToList();
                lines.Add($"  - {{ name: {tool.Name}{(arguments.Count == 0 ? "" : $", args: {{ {string.Join(", ", arguments)} }}")} }}   # it ended: {tool.Outcome}");
            }
        }
        var rules = observed.Rules.Select(r => $"{{ id: {r.Rule}, action: {r.Action} }}").Distinct().ToList();
        if (rules.Count > 0) lines.Add($"rule: [{string.Join(", ", rules)}]");
        if (observed.ApprovalPending) lines.Add("approval: pending");
        var cited = observed.Citations.Select(c => c.Document).Where(d => d.Length > 0).Distinct().ToList();
        if (cited.Count > 0) lines.Add($"cites: [{string.Join(", ", cited)}]");
        if (after.LastOrDefault(m => m.Role == MessageRoles.Assistant && m.Content.Length > 0) is { } reply)
            lines.Add($"# the reply was: {Quote(reply.Content.Length > 200 ? reply.Content[..200] + "…" : reply.Content)}  (add contains/judge for what it must say)");
        return lines;
    }

    /// <summary>A YAML double-quoted scalar (JSON's string syntax is valid YAML).</summary>
    static string Quote(string text) => JsonSerializer.Serialize(text.ReplaceLineEndings(" "));

    static string Slug(string conversationId) => "from-" + conversationId.ToLowerInvariant().Replace('_', '-')[^Math.Min(20, conversationId.Length)..].Trim('-');
}
