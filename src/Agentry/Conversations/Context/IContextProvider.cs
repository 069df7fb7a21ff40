using System.Text;
using Agentry.Agents;
using Microsoft.Extensions.AI;

namespace Agentry.Conversations.Context;

/// <summary>
/// One contributor to an agent's context. Providers run in <see cref="Order"/>: instructions and personality (100),
/// tools (200), long-term memory (300), knowledge (400), the summary of older messages (450), history (500).
/// </summary>
public interface IContextProvider
{
    int Order { get; }

    /// <summary>What its contribution is called where the context is shown (<c>GET /v1/conversations/{id}/context</c>).</summary>
    string Part { get; }

    ValueTask ContributeAsync(ContextRequest request, AgentContext context, CancellationToken cancellationToken);
}
