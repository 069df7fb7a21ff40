using Agentry.Api;

namespace Agentry.Rules;

/// <summary>Where a rule is evaluated.</summary>
public static class RuleStages
{
    /// <summary>On the user's message, before any model sees it.</summary>
    public const string Input = "input";
    /// <summary>On the agent's reply, before the user sees it.</summary>
    public const string Output = "output";
    /// <summary>On a tool call, before the tool runs.</summary>
    public const string Tool = "tool";

    public static readonly string[] All = [Input, Output, Tool];
}

public static class RuleActions
{
    public const string Block = "block";
    public const string Redact = "redact";
    public const string Append = "append";
    public const string Rewrite = "rewrite";
    public const string Escalate = "escalate";
    public const string Flag = "flag";
    public const string Deny = "deny";
    public const string RequireApproval = "require-approval";

    /// <summary>The <c>escalateTo</c> that asks a person to take over, rather than another agent.</summary>
    public const string HumanTarget = "human";

    public static readonly IReadOnlyDictionary<string, string[]> ByStage = new Dictionary<string, string[]>
    {
        [RuleStages.Input] = [Block, Redact, Rewrite, Escalate, Flag],
        [RuleStages.Output] = [Block, Redact, Append, Rewrite, Flag],
        [RuleStages.Tool] = [Deny, RequireApproval, Flag],
    };
}

/// <summary>What makes a rule fire. All conditions given must hold (an empty condition always holds).</summary>
public sealed record RuleMatch
{
    public List<string> Keywords { get; init => field = value ?? []; } = [];
    public string? Regex { get; init; }
    /// <summary>PII detectors: email, phone, card (Luhn-checked), iban (mod-97-checked).</summary>
    public List<string> Pii { get; init => field = value ?? []; } = [];
    /// <summary>Known prompt-injection phrases ("ignore previous instructions", …).</summary>
    public bool Injection { get; init; }
    /// <summary>Fires when the text is longer than this many characters.</summary>
    public int? MaxLength { get; init; }
    /// <summary>Fires when the text means about the same as one of these (local embeddings, cosine ≥ threshold).</summary>
    public List<string> SimilarTo { get; init => field = value ?? []; } = [];
    public double Threshold { get; init; } = 0.6;
    /// <summary>Output only: <c>json</c> fires when the reply is not valid JSON.</summary>
    public string? NotFormat { get; init; }
    /// <summary>Tool stage: the tool name (or <c>*</c>).</summary>
    public string? Tool { get; init; }
    /// <summary>Tool stage: a comparison on an argument, e.g. <c>amount &gt; 100</c> or <c>currency != "USD"</c>.</summary>
    public string? Condition { get; init; }
}

/// <summary>
/// A business rule. With only <c>id</c> and <c>description</c> it is an instruction compiled into the prompt; with a
/// <c>stage</c> it is also enforced by <see cref="RuleEngine"/> at that point of every turn.
/// </summary>
public sealed record AgentRule
{
    public string Id { get; init; } = "";
    public string Description { get; init => field = value ?? ""; } = "";
    public string? Stage { get; init; }
    public RuleMatch When { get; init => field = value ?? new(); } = new();
    public string? Action { get; init; }
    /// <summary>block: the reply given instead.</summary>
    public string? Reply { get; init; }
    /// <summary>append: the text added (e.g. a disclaimer); rewrite: the replacement for what matched.</summary>
    public string? Text { get; init; }
    /// <summary>escalate: an agent id, or <c>human</c> to flag the conversation for a person.</summary>
    public string? EscalateTo { get; init; }
    /// <summary>
    /// Input stage: also check what tools return before the model reads it (an injection hidden in a web page, PII in a
    /// record). block withholds the result, redact and rewrite change it, flag records it.
    /// </summary>
    public bool CheckToolResults { get; init; }

    [YamlDotNet.Serialization.YamlIgnore] // derived, not part of the definition
    public bool IsEnforced => Stage is not null;

    public void Validate(ValidationErrors errors, string path)
    {
        errors.Slug($"{path}.id", Id);
        if (!IsEnforced)
        {
            errors.Required($"{path}.description", Description, 2_000);
            return;
        }
        errors.MaxLength($"{path}.description", Description, 2_000);
        if (!RuleStages.All.Contains(Stage)) { errors.Add($"{path}.stage", $"Must be one of: {string.Join(", ", RuleStages.All)}."); return; }
        var allowed = RuleActions.ByStage[Stage!];
        if (Action is null || !allowed.Contains(Action)) errors.Add($"{path}.action", $"For stage '{Stage}' use one of: {string.Join(", ", allowed)}.");
        if (Action == RuleActions.Block && string.IsNullOrWhiteSpace(Reply)) errors.Add($"{path}.reply", "A block rule needs the reply to give instead.");
        if (Action is RuleActions.Append && string.IsNullOrWhiteSpace(Text)) errors.Add($"{path}.text", "An append rule needs the text to append.");
        if (Action is RuleActions.Rewrite && Text is null) errors.Add($"{path}.text", "A rewrite rule needs the replacement text.");
        if (Action == RuleActions.Escalate && !(EscalateTo == RuleActions.HumanTarget || ValidationErrors.IsSlug(EscalateTo)))
            errors.Add($"{path}.escalateTo", "Must be an agent id or 'human'.");
        errors.MaxLength($"{path}.reply", Reply, 2_000);
        errors.MaxLength($"{path}.text", Text, 2_000);
        if (CheckToolResults && Stage != RuleStages.Input) errors.Add($"{path}.checkToolResults", "Only input rules check tool results.");
        if (CheckToolResults && Action == RuleActions.Escalate)
            errors.Add($"{path}.checkToolResults", "Escalation moves the user's conversation; to check tool results use block, redact, rewrite or flag.");
        RuleEngine.ValidateMatch(When, Stage!, Action, errors, $"{path}.when");
    }
}

/// <summary>One rule that fired, as stored with the message and sent as an SSE <c>rule</c> event.</summary>
public sealed record RuleDecision(string Rule, string Stage, string Action, string Detail);
