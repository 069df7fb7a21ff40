using Agentry.Api;
using Agentry.Rules;

namespace Agentry.Agents;

/// <summary>
/// What an agent is: the same shape in a YAML file under agents/ and in the body of POST/PUT /v1/agents.
/// Definitions are stateless; everything per conversation lives in the database.
/// </summary>
public sealed record AgentDefinition : IValidatable
{
    public string Id { get; init => field = value ?? ""; } = "";
    public string Name { get; init; } = "";
    public string Description { get; init => field = value ?? ""; } = "";
    /// <summary><c>offline</c>, <c>endpoint</c> or <c>endpoint/model</c>; null uses Models:DefaultModel.</summary>
    public string? Model { get; init; }
    public string Instructions { get; init => field = value ?? ""; } = "";
    // JSON null means "none": stored definitions and handlers never see null collections.
    public Personality Personality { get; init => field = value ?? new(); } = new();
    public List<AgentRule> Rules { get; init => field = value ?? []; } = [];
    public List<string> Tools { get; init => field = value ?? []; } = [];
    /// <summary>Agents this agent may hand the conversation to.</summary>
    public List<string> Handoffs { get; init => field = value ?? []; } = [];
    public double? Temperature { get; init; }
    public int? MaxOutputTokens { get; init; }
    /// <summary>How a router agent chooses among its handoffs without a model call (see <see cref="SemanticRouter"/>).</summary>
    public RoutingOptions Routing { get; init => field = value ?? new(); } = new();
    /// <summary>Makes this entry a workflow of other agents, addressed like an agent.</summary>
    public WorkflowOptions? Workflow { get; init; }
    /// <summary>Knowledge bases the agent answers from, citing them (null: none).</summary>
    [System.Text.Json.Serialization.JsonConverter(typeof(AgentKnowledge.JsonShorthand))]
    public AgentKnowledge? Knowledge { get; init; }

    /// <summary>
    /// What it remembers about users across conversations (<see cref="Memory.MemoryScopes"/>): <c>off</c> (the default),
    /// <c>own</c> (memories only it reads and writes) or <c>shared</c> (memories that follow the user across agents).
    /// </summary>
    public string Memory { get; init => field = value ?? Agentry.Memory.MemoryScopes.Off; } = Agentry.Memory.MemoryScopes.Off;

    /// <summary>
    /// The tools the agent may call: its own, <c>search_knowledge</c> when it has knowledge bases, and
    /// <c>remember</c>/<c>recall</c> when it keeps memories.
    /// </summary>
    [YamlDotNet.Serialization.YamlIgnore, System.Text.Json.Serialization.JsonIgnore]
    public IReadOnlyList<string> EffectiveTools
    {
        get
        {
            var implied = new List<string>();
            if (Knowledge is { Bases.Count: > 0 }) implied.Add(Agentry.Tools.ToolCatalog.SearchKnowledge);
            if (Memory != Agentry.Memory.MemoryScopes.Off) implied.AddRange([Agentry.Tools.ToolCatalog.Remember, Agentry.Tools.ToolCatalog.Recall]);
            return implied.All(Tools.Contains) ? Tools : [.. Tools, .. implied.Where(t => !Tools.Contains(t))];
        }
    }

    /// <summary>
    /// Which version of the agent this is (<see cref="AgentVersions.Hash"/> of its content), set where definitions are
    /// loaded; turns record it on the replies they store. Not part of the definition a client writes.
    /// </summary>
    [YamlDotNet.Serialization.YamlIgnore, System.Text.Json.Serialization.JsonIgnore]
    public string? Version { get; init; }

    public const int MaxOutputTokensLimit = 128_000;

    /// <remarks>An empty id is allowed here: <c>PUT /v1/agents/{id}</c> and file names supply it; <c>POST</c> requires it.</remarks>
    public void Validate(ValidationErrors errors)
    {
        if (Id.Length > 0) errors.Slug("id", Id);
        errors.Required("name", Name, 100);
        errors.MaxLength("description", Description, 2_000);
        errors.MaxLength("model", Model, 200);
        if (Model is not null && !Models.ModelReference.TryParse(Model, out _))
            errors.Add("model", "Must be 'offline', 'endpoint' or 'endpoint/model' (for example 'openai/gpt-4o').");
        errors.MaxLength("instructions", Instructions, 20_000);
        (Personality ?? new Personality()).Validate(errors);
        errors.Count("rules", Rules, 100);
        for (var i = 0; i < (Rules?.Count ?? 0); i++)
        {
            if (Rules![i] is { } rule) rule.Validate(errors, $"rules[{i}]");
            else errors.Add($"rules[{i}]", "Must be an object with id and description.");
        }
        if (Rules?.Where(r => r is not null).GroupBy(r => r.Id).FirstOrDefault(g => g.Count() > 1) is { } duplicate)
            errors.Add("rules", $"Rule id '{duplicate.Key}' is used more than once.");
        errors.Count("tools", Tools, 50);
        for (var i = 0; i < (Tools?.Count ?? 0); i++)
            if (string.IsNullOrWhiteSpace(Tools![i]) || Tools[i].Length > 128) errors.Add($"tools[{i}]", "Must be a tool name of 1-128 characters.");
        errors.Count("handoffs", Handoffs, 50);
        for (var i = 0; i < (Handoffs?.Count ?? 0); i++)
        {
            errors.Slug($"handoffs[{i}]", Handoffs![i]);
            if (Handoffs[i] == Id) errors.Add($"handoffs[{i}]", "An agent cannot hand off to itself.");
        }
        Routing.Validate(errors, Handoffs ?? []);
        Workflow?.Validate(errors, Id);
        Knowledge?.Validate(errors);
        if (!Agentry.Memory.MemoryScopes.All.Contains(Memory)) errors.Add("memory", $"Must be one of {string.Join(", ", Agentry.Memory.MemoryScopes.All)}.");
        errors.Range("temperature", Temperature, 0, 2);
        if (MaxOutputTokens is { } max && (max < 1 || max > MaxOutputTokensLimit))
            errors.Add("maxOutputTokens", $"Must be between 1 and {MaxOutputTokensLimit}.");
    }

    /// <summary>What the definition names outside itself and this installation lacks: a configured model endpoint, tools.</summary>
    public ValidationErrors ReferenceErrors(Models.ModelCatalog models, Tools.ToolCatalog tools)
    {
        var errors = new ValidationErrors();
        if (Model is not null && !models.IsAvailable(Model, out var problem)) errors.Add("model", problem);
        for (var i = 0; i < Tools.Count; i++)
            if (tools.ProblemWith(Tools[i]) is { } toolProblem) errors.Add($"tools[{i}]", toolProblem);
        return errors;
    }
}

/// <summary>How the agent sounds. Compiled into the system prompt by <see cref="SystemPrompt"/>.</summary>
public sealed record Personality
{
    /// <summary>The agent's role in one phrase, e.g. "the billing specialist of Acme".</summary>
    public string? Role { get; init; }
    public string? Tone { get; init; }
    public string? Style { get; init; }
    public List<string> Traits { get; init => field = value ?? []; } = [];
    /// <summary>Language the agent answers in, e.g. "English" or "the user's language".</summary>
    public string? Language { get; init; }
    public string? Greeting { get; init; }
    public string? SignOff { get; init; }
    /// <summary>Phrases the agent must never say.</summary>
    public List<string> Avoid { get; init => field = value ?? []; } = [];
    /// <summary>Fields a conversation may override when it starts (tone, style, language, traits, greeting, signOff).</summary>
    public List<string> Overridable { get; init => field = value ?? []; } = [];
    /// <summary>
    /// For overridable fields, the values a conversation may choose from (e.g. tone: [formal, friendly]). A field with
    /// choices takes only those and they join the personality like the agent's own values; a field without choices is
    /// free text, checked by the input rules and given to the model as client-supplied data.
    /// </summary>
    public Dictionary<string, List<string>> Choices { get; init => field = value ?? []; } = [];

    public static readonly string[] OverridableFields = ["tone", "style", "language", "traits", "greeting", "signOff"];

    /// <summary>Whether <paramref name="value"/> is one of the choices the agent offers for <paramref name="field"/>.</summary>
    public bool IsChoice(string field, string? value) =>
        value is not null && Choices.TryGetValue(field, out var choices) && choices.Contains(value.Trim(), StringComparer.OrdinalIgnoreCase);

    /// <summary>This personality with a conversation's overrides applied, for the fields this personality allows.</summary>
    public Personality With(Personality? overrides)
    {
        if (overrides is null) return this;
        bool May(string field) => Overridable.Contains(field);
        return this with
        {
            Tone = May("tone") && overrides.Tone is { } tone ? tone : Tone,
            Style = May("style") && overrides.Style is { } style ? style : Style,
            Language = May("language") && overrides.Language is { } language ? language : Language,
            Traits = May("traits") && overrides.Traits.Count > 0 ? overrides.Traits : Traits,
            Greeting = May("greeting") && overrides.Greeting is { } greeting ? greeting : Greeting,
            SignOff = May("signOff") && overrides.SignOff is { } signOff ? signOff : SignOff,
        };
    }

    /// <summary>
    /// A conversation's overrides in two parts: values from the agent's own choices, which join the personality, and free
    /// text the client supplied, which the system prompt gives the model as data. Fields the agent does not allow are dropped.
    /// </summary>
    public (Personality Chosen, Personality Supplied) Split(Personality overrides)
    {
        string? Pick(string field, string? value, bool chosen) =>
            value is not null && Overridable.Contains(field) && IsChoice(field, value) == chosen ? value : null;
        List<string> PickTraits(bool chosen) =>
            Overridable.Contains("traits") && overrides.Traits.Count > 0 && overrides.Traits.All(t => IsChoice("traits", t)) == chosen ? overrides.Traits : [];
        Personality Part(bool chosen) => new()
        {
            Tone = Pick("tone", overrides.Tone, chosen), Style = Pick("style", overrides.Style, chosen), Language = Pick("language", overrides.Language, chosen),
            Traits = PickTraits(chosen), Greeting = Pick("greeting", overrides.Greeting, chosen), SignOff = Pick("signOff", overrides.SignOff, chosen),
        };
        return (Part(chosen: true), Part(chosen: false));
    }

    /// <summary>The fields an override sets that this personality does not allow.</summary>
    public IEnumerable<string> Disallowed(Personality overrides)
    {
        var set = new List<string>();
        if (overrides.Tone is not null) set.Add("tone");
        if (overrides.Style is not null) set.Add("style");
        if (overrides.Language is not null) set.Add("language");
        if (overrides.Traits.Count > 0) set.Add("traits");
        if (overrides.Greeting is not null) set.Add("greeting");
        if (overrides.SignOff is not null) set.Add("signOff");
        if (overrides.Role is not null) set.Add("role");
        if (overrides.Avoid.Count > 0) set.Add("avoid");
        if (overrides.Overridable.Count > 0) set.Add("overridable");
        if (overrides.Choices.Count > 0) set.Add("choices");
        return set.Where(f => !Overridable.Contains(f));
    }

    public void Validate(ValidationErrors errors)
    {
        errors.MaxLength("personality.role", Role, 200);
        errors.MaxLength("personality.tone", Tone, 200);
        errors.MaxLength("personality.style", Style, 500);
        errors.MaxLength("personality.language", Language, 100);
        errors.MaxLength("personality.greeting", Greeting, 500);
        errors.MaxLength("personality.signOff", SignOff, 200);
        errors.Count("personality.traits", Traits, 20);
        for (var i = 0; i < (Traits?.Count ?? 0); i++) errors.Required($"personality.traits[{i}]", Traits![i], 100);
        errors.Count("personality.avoid", Avoid, 50);
        foreach (var field in Overridable ?? [])
            if (!OverridableFields.Contains(field)) errors.Add("personality.overridable", $"'{field}' cannot be overridden; use {string.Join(", ", OverridableFields)}.");
        for (var i = 0; i < (Avoid?.Count ?? 0); i++) errors.Required($"personality.avoid[{i}]", Avoid![i], 200);
        foreach (var (field, choices) in Choices ?? [])
        {
            if (choices is null) { errors.Add($"personality.choices.{field}", "Must be a list of values."); continue; }
            if (!(Overridable ?? []).Contains(field)) errors.Add($"personality.choices.{field}", $"'{field}' has choices but is not in overridable.");
            if (choices.Count is < 1 or > 50) errors.Add($"personality.choices.{field}", "Between 1 and 50 choices.");
            for (var i = 0; i < choices.Count; i++) errors.Required($"personality.choices.{field}[{i}]", choices[i], 200);
        }
    }
}

/// <summary>A named multi-agent workflow.</summary>
public sealed record WorkflowOptions
{
    public const string Sequential = "sequential";
    public const string Group = "group";

    /// <summary><c>sequential</c>: each agent's output feeds the next. <c>group</c>: agents take turns on a shared transcript.</summary>
    public string Type { get; init; } = Sequential;
    public List<string> Agents { get; init => field = value ?? []; } = [];
    /// <summary>group: most turns in all.</summary>
    public int MaxRounds { get; init; } = 4;
    /// <summary>group: a reply containing this phrase ends the workflow (e.g. APPROVED).</summary>
    public string? Until { get; init; }

    public void Validate(ValidationErrors errors, string selfId)
    {
        if (Type is not (Sequential or Group)) errors.Add("workflow.type", "Use 'sequential' or 'group'.");
        if (Agents.Count is < 1 or > 10) errors.Add("workflow.agents", "Between 1 and 10 agents.");
        for (var i = 0; i < Agents.Count; i++)
        {
            errors.Slug($"workflow.agents[{i}]", Agents[i]);
            if (Agents[i] == selfId) errors.Add($"workflow.agents[{i}]", "A workflow cannot contain itself.");
        }
        if (MaxRounds is < 1 or > 20) errors.Add("workflow.maxRounds", "Between 1 and 20.");
        errors.MaxLength("workflow.until", Until, 100);
    }
}
