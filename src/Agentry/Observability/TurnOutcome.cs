using System.Diagnostics;
using Microsoft.Extensions.Options;

namespace Agentry.Observability;

/// <summary>How a turn ended, reported once when it is over.</summary>
public sealed record TurnOutcome(
    string ConversationId, string AgentId, string? KeyId, string Model, string Status, string FinishReason, TimeSpan Duration,
    IReadOnlyList<ModelUsage> Usage, Exception? Failure, string? TraceId, Activity? Activity)
{
    /// <summary>A turn of an eval run: the analytics (dashboards, keys' usage) leave it out; metrics still count what the provider billed.</summary>
    public bool IsEval { get; init; }

    public const string Completed = "completed";
    public const string PendingApproval = Conversations.TurnDto.PendingApproval;
    public const string Interrupted = Conversations.TurnDto.Interrupted;
    public const string Failed = "failed";

    public long InputTokens => Usage.Sum(u => u.InputTokens);
    public long OutputTokens => Usage.Sum(u => u.OutputTokens);
    public bool Succeeded => Status is Completed or PendingApproval;
}
