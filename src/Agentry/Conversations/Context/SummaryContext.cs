namespace Agentry.Conversations.Context;

/// <summary>
/// The older part of a long conversation, as its rolling summary (<see cref="RollingSummary"/>), in the system prompt
/// in place of the messages it covers. Its lines quote users, so they come fenced.
/// </summary>
public sealed class SummaryContext : IContextProvider
{
    public const string Heading = "## Earlier in this conversation";

    public int Order => 450;
    public string Part => "summary";

    public ValueTask ContributeAsync(ContextRequest request, AgentContext context, CancellationToken cancellationToken)
    {
        if (request.Transcript is null && request.Turn.Summary is { Length: > 0 } summary)
            context.Instructions.Append("\n\n").Append(Heading).Append("\nThe older messages of this conversation, one line each, no longer shown as messages:\n")
                .Append(UntrustedData.Wrap("summary", summary));
        return ValueTask.CompletedTask;
    }
}
