using Agentry.Agents;
using Agentry.Tools;
using Microsoft.Extensions.AI;

namespace Agentry.Conversations.Context;

/// <summary>The agent's tools (with search_knowledge when it has knowledge bases), plus one <c>transfer_to_AGENT</c> declaration per handoff target when handoffs are offered, and the functions the client offered.</summary>
public sealed class ToolsContext(ToolCatalog tools) : IContextProvider
{
    public int Order => 200;
    public string Part => "tools";

    public ValueTask ContributeAsync(ContextRequest request, AgentContext context, CancellationToken cancellationToken)
    {
        context.Tools.AddRange(tools.Resolve(request.Agent.EffectiveTools));
        if (request.OfferHandoffs) context.Tools.AddRange(Handoffs.Declarations(request.Agent));
        // The client's own functions: a call to one ends the turn (Conversations/AgentLoop.cs). One named like a tool of
        // this agent (one taken over by a handoff) is not offered: the agent's own tool keeps its name.
        var own = context.Tools.Select(t => t.Name).ToHashSet();
        context.Tools.AddRange(request.Turn.ClientTools.Where(t => !own.Contains(t.Name)));
        return ValueTask.CompletedTask;
    }
}
