using System.Globalization;
using Agentry.Rules;

namespace Agentry.Tools;

/// <summary>
/// The controls a tool carries wherever it is used: whichever agent calls it, with or without rules of its own. Amounts
/// are read from one argument (<see cref="AmountArgument"/>) exactly as the tool reads it; a call whose amount is
/// missing or not a number is refused.
/// </summary>
public sealed class ToolPolicy
{
    /// <summary>The tool, by its Agentry name: <c>refund</c>, or <c>mcp:SERVER/TOOL</c> for a tool of an MCP server.</summary>
    public string Tool { get; set; } = "";
    /// <summary>The argument holding the amount the limits apply to (<c>amount</c> for refunds).</summary>
    public string? AmountArgument { get; set; }
    /// <summary>A call above this amount waits for a human approval.</summary>
    public decimal? ApprovalAbove { get; set; }
    /// <summary>A call above this amount is refused outright; no approval can let it through.</summary>
    public decimal? MaxPerCall { get; set; }
    /// <summary>Calls in one conversation may add up to this without approval; a call beyond it waits for a human.</summary>
    public decimal? MaxTotalPerConversation { get; set; }
    /// <summary>The same for one end user (the conversation's userId, else the API key) in one UTC day, across conversations.</summary>
    public decimal? MaxTotalPerUserPerDay { get; set; }
    /// <summary>The same for one API key in one UTC day, across all its users and conversations.</summary>
    public decimal? MaxTotalPerKeyPerDay { get; set; }
    /// <summary>A side effect happens once: the same call with the same arguments again in a conversation gets the first result.</summary>
    public bool OncePerConversation { get; set; }

    public bool LimitsAmounts => ApprovalAbove is not null || MaxPerCall is not null || MaxTotalPerConversation is not null
        || MaxTotalPerUserPerDay is not null || MaxTotalPerKeyPerDay is not null;

    /// <summary>What is wrong with this entry (at <paramref name="path"/>, e.g. <c>Tools:Policies:0</c>); empty when it can be enforced.</summary>
    public IEnumerable<string> Problems(string path, Func<string, string?> toolProblem)
    {
        if (string.IsNullOrWhiteSpace(Tool)) yield return $"{path}:Tool is required: the tool's name (refund, or mcp:SERVER/TOOL).";
        else if (toolProblem(Tool) is { } problem) yield return $"{path}:Tool '{Tool}': {problem}";
        if (LimitsAmounts && string.IsNullOrWhiteSpace(AmountArgument))
            yield return $"{path}:AmountArgument is required when a policy limits amounts: the argument that carries the amount (e.g. amount).";
        foreach (var (name, value) in new[] { ("ApprovalAbove", ApprovalAbove), ("MaxPerCall", MaxPerCall), ("MaxTotalPerConversation", MaxTotalPerConversation),
                     ("MaxTotalPerUserPerDay", MaxTotalPerUserPerDay), ("MaxTotalPerKeyPerDay", MaxTotalPerKeyPerDay) })
            if (value < 0) yield return $"{path}:{name} must not be negative.";
    }
}

/// <summary>What a tool's policy says about one call.</summary>
public sealed record PolicyVerdict(string Kind, string Reason, string? PreviousResult = null)
{
    public const string Allow = "allow";
    public const string Deny = "deny";
    public const string RequireApproval = "require-approval";
    public const string AlreadyDone = ToolOutcome.AlreadyDone;

    public static PolicyVerdict Allowed { get; } = new(Allow, "");

    /// <summary>The rule an approval or a refusal is recorded under (<c>tool-policy:refund</c>).</summary>
    public AgentRule AsRule(string tool) => new() { Id = $"tool-policy:{tool}", Description = Reason };

    internal static string Money(decimal value) => value.ToString(CultureInfo.InvariantCulture);
}
