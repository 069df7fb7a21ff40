namespace Agentry.Conversations.Context;

/// <summary>
/// The conversation's text: the stored history window (loaded with the turn), the user's message and the replies given so
/// far in this turn. A new agent sees this text, not the previous agent's tool calls.
/// </summary>
public sealed class HistoryContext : IContextProvider
{
    public int Order => 500;

    public string Part => "history";

    public ValueTask ContributeAsync(ContextRequest request, AgentContext context, CancellationToken cancellationToken)
    {
        context.Messages.AddRange(request.Transcript ?? request.Turn.History);
        return ValueTask.CompletedTask;
    }
}
