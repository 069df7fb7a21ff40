using System.Text.Json;
using Agentry.Agents;

namespace Agentry.Conversations.Context;

/// <summary>
/// The system prompt: the agent's compiled definition with the conversation's personality overrides (where the agent
/// allows them), then a note on how the agent got here (a handoff) or what this call is for (a workflow step).
/// </summary>
public sealed class InstructionsContext : IContextProvider
{
    static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public int Order => 100;

    public ValueTask ContributeAsync(ContextRequest request, AgentContext context, CancellationToken cancellationToken)
    {
        var (turn, agent) = (request.Turn, request.Agent);
        context.Instructions.Append(Compile(agent, turn.Conversation));
        if (request.Note is { } note) context.Instructions.Append("\n\n").Append(note);
        else if (turn.ArrivedBy is { } handoff && handoff.To == agent.Id)
            context.Instructions.Append($"\n\n## Handoff\nYou have just received this conversation from {handoff.From}. Reason: {handoff.Reason}. Continue helping the user; do not greet them again.");
        return ValueTask.CompletedTask;
    }

    static string Compile(AgentDefinition agent, Conversation conversation)
    {
        if (conversation.PersonalityOverride is null) return SystemPrompt.Compile(agent);
        var overrides = JsonSerializer.Deserialize<Personality>(conversation.PersonalityOverride, Json);
        return SystemPrompt.Compile(agent with { Personality = agent.Personality.With(overrides) });
    }
}
