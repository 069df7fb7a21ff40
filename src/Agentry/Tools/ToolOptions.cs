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
    /// Controls that belong to a tool, whichever agent calls it: a list, one entry per tool
    /// (<c>Tools:Policies:0:Tool = mcp:crm/refund</c>, <c>Tools:Policies:0:ApprovalAbove = 100</c>, …). A built-in tool
    /// not listed keeps its default policy (<see cref="DefaultPolicies"/>); listing it replaces that default whole.
    /// </summary>
    public List<ToolPolicy> Policies { get; set; } = [];

    /// <summary>What guards the side-effecting built-ins unless a policy for them is configured.</summary>
    public static IReadOnlyList<ToolPolicy> DefaultPolicies =>
    [
        new()
        {
            Tool = "refund", AmountArgument = "amount", ApprovalAbove = 100, MaxPerCall = 10_000, MaxTotalPerConversation = 200, MaxTotalPerUserPerDay = 500,
            OncePerConversation = true,
        },
        new() { Tool = "escalate_to_human", OncePerConversation = true },
    ];

    /// <summary>The policy in force for a tool (by its Agentry name), configured or default; null when it has none.</summary>
    public ToolPolicy? PolicyFor(string tool) =>
        Policies.FirstOrDefault(p => p.Tool == tool) ?? DefaultPolicies.FirstOrDefault(p => p.Tool == tool);
}

/// <summary>
/// Tool policies are checked when the service starts: each names a tool that exists and says what it limits. The list
/// form is required; the earlier keyed form (<c>Tools:Policies:refund:…</c>) is refused with the way to write it, because
/// configuration keys split at ':' and so could never name <c>mcp:server/tool</c>.
/// </summary>
public sealed class ToolOptionsValidator(IConfiguration configuration) : Microsoft.Extensions.Options.IValidateOptions<ToolOptions>
{
    public Microsoft.Extensions.Options.ValidateOptionsResult Validate(string? name, ToolOptions options)
    {
        var failures = new List<string>();
        var section = configuration.GetSection($"{ToolOptions.Section}:Policies");
        if (section.GetChildren().FirstOrDefault(c => !int.TryParse(c.Key, out _)) is { } keyed)
            failures.Add($"Tools:Policies:{keyed.Key} uses the keyed form; Tools:Policies is a list, one entry per tool: Tools:Policies:0:Tool = {keyed.Key}, " +
                "Tools:Policies:0:ApprovalAbove = 100, … (environment: Tools__Policies__0__Tool). Only the list form can name an MCP tool (mcp:SERVER/TOOL).");
        else
        {
            for (var i = 0; i < options.Policies.Count; i++)
                failures.AddRange(options.Policies[i].Problems($"Tools:Policies:{i}", ToolCatalog.PolicyTargetProblem));
            foreach (var duplicate in options.Policies.GroupBy(p => p.Tool, StringComparer.Ordinal).Where(g => g.Key.Length > 0 && g.Count() > 1))
                failures.Add($"Tools:Policies names '{duplicate.Key}' {duplicate.Count()} times; one entry per tool.");
        }
        return failures.Count == 0 ? Microsoft.Extensions.Options.ValidateOptionsResult.Success : Microsoft.Extensions.Options.ValidateOptionsResult.Fail(failures);
    }
}
