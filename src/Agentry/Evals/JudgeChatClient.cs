using Agentry.Security;
using Microsoft.Extensions.AI;

namespace Agentry.Evals;

/// <summary>
/// The judge model as a run uses it: each call reserves its tokens against the starting key's budget like any model
/// call of a turn (and settles to what the provider reported), and what the judge used is added up for the report.
/// </summary>
public sealed class JudgeChatClient(IChatClient inner, TokenBudget budget, Caller caller) : DelegatingChatClient(inner)
{
    const int MaxAnswerTokens = 300;
    long _input;
    long _output;

    public long InputTokens => Interlocked.Read(ref _input);
    public long OutputTokens => Interlocked.Read(ref _output);

    public override async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var prompt = messages as IList<ChatMessage> ?? messages.ToList();
        var reservation = await budget.ReserveAsync(caller, () => prompt.Sum(m => Models.Tokens.Count(m.Text)), MaxAnswerTokens, cancellationToken);
        long used = 0;
        try
        {
            var response = await base.GetResponseAsync(prompt, (options ?? new ChatOptions()).Clone() is var bounded && bounded.MaxOutputTokens is null or > MaxAnswerTokens
                ? WithLimit(bounded) : bounded, cancellationToken);
            Interlocked.Add(ref _input, response.Usage?.InputTokenCount ?? 0);
            Interlocked.Add(ref _output, response.Usage?.OutputTokenCount ?? 0);
            used = (response.Usage?.InputTokenCount ?? 0) + (response.Usage?.OutputTokenCount ?? 0);
            return response;
        }
        finally
        {
            await budget.SettleAsync(reservation, used);
        }
    }

    static ChatOptions WithLimit(ChatOptions options)
    {
        options.MaxOutputTokens = MaxAnswerTokens;
        return options;
    }
}
