using Agentry.Agents;
using Agentry.Rules;

namespace Agentry.Conversations;

/// <summary>
/// What a client may set of an agent's personality when it opens a conversation: only the fields the agent lists as
/// overridable; for a field with choices, one of them; free text otherwise, which the agent's input rules (the
/// global ones included) check like a user message (an injection attempt is refused, PII redacted) before it is kept.
/// </summary>
public sealed class PersonalityOverrides(RuleEngine engine, AgentCatalog agents)
{
    public async Task<(Personality? Accepted, Dictionary<string, string[]> Errors)> CheckAsync(AgentDefinition agent, Personality? requested,
        CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        if (requested is null) return (null, errors);
        var own = agent.Personality;
        foreach (var field in own.Disallowed(requested))
            errors[$"personality.{field}"] = [$"Agent '{agent.Id}' does not allow conversations to override {field}."];
        if (errors.Count > 0) return (null, errors);

        var rules = agents.EnforcedRules(agent).Where(r => r.Stage == RuleStages.Input).ToList();
        async Task<string?> CheckAsync(string field, string? value)
        {
            if (value is null) return null;
            if (own.Choices.TryGetValue(field, out var choices))
            {
                if (own.IsChoice(field, value)) return value.Trim();
                errors[$"personality.{field}"] = [$"Must be one of: {string.Join(", ", choices)}."];
                return null;
            }
            var verdict = await engine.CheckTextAsync(RuleStages.Input, rules, value, cancellationToken);
            if (verdict.Blocked is { } blocked)
                errors[$"personality.{field}"] = [$"Refused by rule '{blocked.Id}': {verdict.Decisions.First(d => d.Rule == blocked.Id).Detail}."];
            return verdict.Text;
        }

        var traits = new List<string>();
        foreach (var trait in requested.Traits) traits.Add(await CheckAsync("traits", trait) ?? "");
        var accepted = new Personality
        {
            Tone = await CheckAsync("tone", requested.Tone), Style = await CheckAsync("style", requested.Style),
            Language = await CheckAsync("language", requested.Language), Traits = traits,
            Greeting = await CheckAsync("greeting", requested.Greeting), SignOff = await CheckAsync("signOff", requested.SignOff),
        };
        return (errors.Count > 0 ? null : accepted, errors);
    }
}
