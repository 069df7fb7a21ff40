using Agentry.Conversations.Context;
using Agentry.Models;

namespace Agentry.Conversations;

/// <summary>A message of the context: its role, what it costs and what it says.</summary>
public sealed record ContextMessageDto(string Role, int Tokens, string Text);

/// <summary>
/// One part of the context as its provider contributed it: system-prompt text (instructions with personality, memory,
/// knowledge, summary), messages (history) or tools, with its token count (o200k).
/// </summary>
public sealed record ContextPartDto(string Name, int Tokens, string? Text, IReadOnlyList<ContextMessageDto>? Messages, IReadOnlyList<string>? Tools);

/// <summary>The limits the parts are held to.</summary>
public sealed record ContextBudgetDto(int HistoryTokenLimit, int SummaryTokenLimit, int? KnowledgeMaxTokens, int? MemoryMaxTokens, int? MaxOutputTokens);

/// <summary>Exactly what the next turn of a conversation would send to its model, part by part.</summary>
public sealed record ContextPreviewDto(string ConversationId, string AgentId, string Model, int TotalTokens, IReadOnlyList<ContextPartDto> Parts, ContextBudgetDto Budget)
{
    public static ContextPreviewDto From(Turn turn, AgentContext context, ConversationOptions conversations, Memory.MemoryOptions memory)
    {
        var prompt = context.SystemPrompt;
        var parts = new List<ContextPartDto>();
        foreach (var part in context.Parts.Where(p => p.InstructionsLength > 0 || p.MessageCount > 0 || p.ToolCount > 0))
        {
            var text = part.InstructionsLength > 0 ? prompt.Substring(part.InstructionsStart, part.InstructionsLength).Trim('\n') : null;
            var messages = part.MessageCount > 0
                ? context.Messages.Skip(part.FirstMessage).Take(part.MessageCount).Select(m => new ContextMessageDto(m.Role.Value, Tokens.Count(m), m.Text)).ToList()
                : null;
            var tools = part.ToolCount > 0 ? context.Tools.Skip(part.FirstTool).Take(part.ToolCount).ToList() : null;
            var tokens = Tokens.Count(text) + (messages?.Sum(m => m.Tokens) ?? 0) + (tools?.Sum(Tokens.Count) ?? 0);
            parts.Add(new ContextPartDto(part.Name, tokens, text, messages, tools?.Select(t => t.Name).ToList()));
        }
        var agent = turn.Agent;
        var budget = new ContextBudgetDto(conversations.HistoryTokenLimit, conversations.SummaryTokenLimit, agent.Knowledge?.MaxTokens,
            agent.Memory == Memory.MemoryScopes.Off ? null : memory.MaxContextTokens, agent.MaxOutputTokens);
        return new ContextPreviewDto(turn.Conversation.Id, agent.Id, turn.Model.Name, parts.Sum(p => p.Tokens), parts, budget);
    }
}
