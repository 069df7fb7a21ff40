namespace Agentry.Conversations.Context;

/// <summary>
/// The conversation's text: the stored history window (loaded with the turn), the user's message and the replies given so
/// far in this turn, after the rolling summary of what is older than the window. A new agent sees this text, not the
/// previous agent's tool calls.
/// </summary>
public sealed class HistoryContext : IContextProvider
{
    public const string SummaryHeading = "## Earlier in this conversation";

    public int Order => 500;

    public ValueTask ContributeAsync(ContextRequest request, AgentContext context, CancellationToken cancellationToken)
    {
        // The older part of a long conversation, as its rolling summary: its lines quote users, so they come fenced.
        if (request.Transcript is null && request.Turn.Summary is { Length: > 0 } summary)
            context.Instructions.Append("\n\n").Append(SummaryHeading).Append("\nThe older messages of this conversation, one line each, no longer shown as messages:\n")
                .Append(UntrustedData.Wrap("summary", summary));
        context.Messages.AddRange(request.Transcript ?? request.Turn.History);
        return ValueTask.CompletedTask;
    }
}
