using System.Text;
using Agentry.Agents;
using Microsoft.Extensions.AI;

namespace Agentry.Conversations.Context;

/// <summary>Assembles an agent's context from the registered providers, in order.</summary>
public sealed class ContextBuilder(IEnumerable<IContextProvider> providers)
{
    readonly IContextProvider[] _providers = providers.OrderBy(p => p.Order).ToArray();

    public async Task<AgentContext> BuildAsync(ContextRequest request, CancellationToken cancellationToken)
    {
        var context = new AgentContext();
        foreach (var provider in _providers)
        {
            var (instructions, messages, tools) = (context.Instructions.Length, context.Messages.Count, context.Tools.Count);
            await provider.ContributeAsync(request, context, cancellationToken);
            context.Parts.Add(new ContextPart(provider.Part, instructions, context.Instructions.Length - instructions, messages, context.Messages.Count - messages,
                tools, context.Tools.Count - tools));
        }
        return context;
    }
}
