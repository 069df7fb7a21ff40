namespace Agentry.Tools;

public sealed class ToolOptions
{
    public const string Section = "Tools";

    /// <summary>Tool calls allowed in one turn, across all agents that answer it.</summary>
    [System.ComponentModel.DataAnnotations.Range(1, 100)]
    public int MaxCallsPerTurn { get; set; } = 8;

    /// <summary>A tool that runs longer is cancelled and the model is told it timed out.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Longest tool result given back to the model, in characters.</summary>
    [System.ComponentModel.DataAnnotations.Range(100, 1_000_000)]
    public int MaxResultChars { get; set; } = 8_000;

    /// <summary>Hosts the <c>http_get</c> tool may fetch from; empty (the default) turns the tool off.</summary>
    public string[] HttpGetAllowedHosts { get; set; } = [];

    /// <summary>
    /// Controls that belong to a tool, whichever agent calls it (Tools:Policies:refund:ApprovalAbove = 100, …). The
    /// defaults guard the side-effecting built-ins; settings override them key by key.
    /// </summary>
    public Dictionary<string, ToolPolicy> Policies { get; set; } = new(StringComparer.Ordinal)
    {
        ["refund"] = new()
        {
            AmountArgument = "amount", ApprovalAbove = 100, MaxPerCall = 10_000, MaxTotalPerConversation = 200, MaxTotalPerUserPerDay = 500,
            OncePerConversation = true,
        },
        ["escalate_to_human"] = new() { OncePerConversation = true },
    };
}

/// <summary>A tool as the API lists it.</summary>
