using System.Text;
using Agentry.Agents;
using Microsoft.Extensions.AI;

namespace Agentry.Conversations.Context;

/// <summary>What an agent is about to be asked to do: the turn, the agent, and anything the caller changes for this one call.</summary>
public sealed record ContextRequest(Turn Turn, AgentDefinition Agent)
{
    /// <summary>Extra instructions for this call only (a workflow step says which step it is).</summary>
    public string? Note { get; init; }
    /// <summary>Whether the agent is offered its <c>transfer_to_…</c> handoff tools (workflow members are not).</summary>
    public bool OfferHandoffs { get; init; } = true;
    /// <summary>What the agent reads instead of the conversation (a workflow passes members each other's output).</summary>
    public IReadOnlyList<ChatMessage>? Transcript { get; init; }

    public static ContextRequest For(Turn turn) => new(turn, turn.Agent);
}
