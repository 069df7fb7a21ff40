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

/// <summary>Everything one model call receives: system prompt, messages and tools, plus the tool rounds of this turn.</summary>
public sealed class AgentContext
{
    public StringBuilder Instructions { get; } = new();
    public List<ChatMessage> Messages { get; } = [];
    public List<AITool> Tools { get; } = [];

    public string SystemPrompt => Instructions.ToString();

    /// <summary>A model's tool calls and their results, so its next call sees what it asked for and what came back.</summary>
    public void AddToolRound(ToolRound round)
    {
        Messages.Add(new ChatMessage(ChatRole.Assistant, [.. round.Calls]));
        Messages.Add(new ChatMessage(ChatRole.Tool, [.. round.Results]));
    }
}

/// <summary>Tool calls of one model response and the results sent back for them.</summary>
public sealed record ToolRound(IReadOnlyList<FunctionCallContent> Calls, IReadOnlyList<AIContent> Results);

/// <summary>
/// One contributor to an agent's context. Providers run in <see cref="Order"/>: instructions and personality (100),
/// tools (200), history (500). Long-term memory and knowledge plug in between (300, 400) without touching the turn.
/// </summary>
public interface IContextProvider
{
    int Order { get; }

    ValueTask ContributeAsync(ContextRequest request, AgentContext context, CancellationToken cancellationToken);
}

/// <summary>Assembles an agent's context from the registered providers, in order.</summary>
public sealed class ContextBuilder(IEnumerable<IContextProvider> providers)
{
    readonly IContextProvider[] _providers = providers.OrderBy(p => p.Order).ToArray();

    public async Task<AgentContext> BuildAsync(ContextRequest request, CancellationToken cancellationToken)
    {
        var context = new AgentContext();
        foreach (var provider in _providers) await provider.ContributeAsync(request, context, cancellationToken);
        return context;
    }
}
