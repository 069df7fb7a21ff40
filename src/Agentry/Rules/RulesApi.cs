using System.Text.Json;
using Agentry.Agents;
using Agentry.Api;
using Agentry.Models;
using Agentry.Security;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.AI;

namespace Agentry.Rules;

public sealed record RuleTestToolCall(string Name, Dictionary<string, JsonElement>? Arguments);

/// <summary>Dry-run input: a user message, a candidate reply and/or a tool call.</summary>
public sealed record RuleTestRequest(string? Message, string? Reply, RuleTestToolCall? Tool) : IValidatable
{
    public void Validate(ValidationErrors errors)
    {
        if (Message is null && Reply is null && Tool is null) errors.Add("message", "Give a message, a reply or a tool call to test.");
        errors.MaxLength("message", Message, Conversations.PostMessageRequest.MaxContentLength);
        errors.MaxLength("reply", Reply, 100_000);
        if (Tool is not null) errors.Required("tool.name", Tool.Name, 128);
    }
}

public sealed record TextRuleResult(string Text, IReadOnlyList<RuleDecision> Decisions, string? BlockedBy, string? Reply, string? EscalateTo);

public sealed record ToolRuleResult(IReadOnlyList<RuleDecision> Decisions, string Verdict);

public sealed record RuleTestResult(TextRuleResult? Input, TextRuleResult? Output, ToolRuleResult? Tool);

public static class RulesApi
{
    public static RouteHandlerBuilder MapRulesApi(this IEndpointRouteBuilder app) =>
        app.MapPost("/v1/agents/{agentId}/rules:test", Test).Validated().WithTags("Agents").WithName("TestRules")
            .RequireAuthorization(Policies.ReadAgents).ProducesProblem(StatusCodes.Status404NotFound)
            .WithSummary("Dry-run a message through the input rules, a reply through the output rules and a tool call through the tool rules.");

    static async Task<Results<Ok<RuleTestResult>, ProblemHttpResult, ValidationProblem>> Test(
        string agentId, RuleTestRequest request, AgentCatalog agents, RuleEngine engine, Tools.ToolCatalog tools, CancellationToken ct)
    {
        if (await agents.FindAsync(agentId, ct) is not { } agent) return Problems.AgentNotFound(agentId).ToResult();
        var rules = agents.EnforcedRules(agent.Definition).ToList();
        TextRuleResult? input = null, output = null;
        ToolRuleResult? tool = null;
        if (request.Message is { } message) input = ToResult(await engine.CheckTextAsync(RuleStages.Input, rules, message, ct));
        if (request.Reply is { } reply) output = ToResult(await engine.CheckTextAsync(RuleStages.Output, rules, reply, ct));
        if (request.Tool is { } call)
        {
            // The arguments as a turn would give them to the rules: normalised to what the tool reads (Tools/ToolArguments.cs).
            var name = tools.CanonicalName(call.Name);
            var arguments = Tools.ToolArguments.Normalize(call.Arguments?.ToDictionary(a => a.Key, a => (object?)a.Value), tools.Find(name)?.JsonSchema);
            var verdict = engine.CheckTool(rules, name, arguments);
            tool = new ToolRuleResult(verdict.Decisions, verdict.Denied is not null ? "deny" : verdict.NeedsApproval is not null ? "require-approval" : "allow");
        }
        return TypedResults.Ok(new RuleTestResult(input, output, tool));
    }

    static TextRuleResult ToResult(TextVerdict verdict) =>
        new(verdict.Blocked?.Reply ?? verdict.Text, verdict.Decisions, verdict.Blocked?.Id, verdict.Blocked?.Reply, verdict.Escalation?.EscalateTo);
}
