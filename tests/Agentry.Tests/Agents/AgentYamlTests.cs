using System.Text.Json.Nodes;

namespace Agentry.Tests.Agents;

/// <summary>
/// An agent written as YAML is checked as an agent file is read, and each problem is at the line it is about: what the
/// console's editor shows next to the text.
/// </summary>
public sealed class AgentYamlTests
{
    static async Task<JsonObject> CheckAsync(AgentryApp app, string yaml) =>
        await Http.JsonAsync(await app.Client.PostAsync("/v1/agents:check", Http.RawJson(new JsonObject { ["yaml"] = yaml }.ToJsonString())));

    [Fact]
    public async Task Each_problem_is_reported_at_its_line_and_a_valid_definition_comes_back_as_the_agent()
    {
        await using var app = new AgentryApp();
        const string yaml = """
            id: checker
            name: Checker
            instructions: Be brief.
            rules:
              - id: ok-rule
                description: fine
              - id: bad-rule
                stage: tool
                when:
                  tool: refund
                  condition: amount >> 1
                action: require-approval
            temperature: 7
            """;
        var errors = (await CheckAsync(app, yaml))["errors"]!.AsArray();
        var condition = errors.Single(e => (string?)e!["field"] == "rules[1].when.condition")!;
        Assert.Equal(11, (int)condition["line"]!);
        var temperature = errors.Single(e => (string?)e!["field"] == "temperature")!;
        Assert.Equal(13, (int)temperature["line"]!);

        var syntax = (await CheckAsync(app, "id: broken\nname: [unclosed\ninstructions: x\n"))["errors"]!.AsArray().Single()!;
        Assert.Equal(2, (int)syntax["line"]!); // where the bracket that is never closed opens
        var unknown = (await CheckAsync(app, "id: typo\nname: T\ninstructions: x\ncolour: blue\n"))["errors"]!.AsArray().Single()!;
        Assert.Equal(4, (int)unknown["line"]!);
        Assert.DoesNotContain("Agentry.", (string?)unknown["message"]); // the author's words, not .NET type names

        // A key given twice is a mistake at its second line, not a server error; a tool the service lacks is found too.
        var duplicate = (await CheckAsync(app, "id: a\nid: b\ninstructions: x\n"))["errors"]!.AsArray().Single()!;
        Assert.Equal(2, (int)duplicate["line"]!);
        var tool = (await CheckAsync(app, "id: t\nname: T\ninstructions: x\ntools: [teleport]\n"))["errors"]!.AsArray().Single()!;
        Assert.Equal(4, (int)tool["line"]!);
        Assert.Contains("teleport", (string?)tool["message"]);

        var valid = await CheckAsync(app, yaml.Replace("amount >> 1", "amount > 100").Replace("temperature: 7", "temperature: 0.7"));
        Assert.Empty(valid["errors"]!.AsArray());
        Assert.Equal("checker", (string?)valid["agent"]!["id"]);
        // What the editor saves is the checked agent, through the normal API.
        await Http.ExpectAsync(await app.Client.PutAsync("/v1/agents/checker", Http.RawJson(valid["agent"]!.ToJsonString())), System.Net.HttpStatusCode.Created);
        var stored = await Http.JsonAsync(await app.Client.GetAsync("/v1/agents/checker/yaml"));
        Assert.Contains("condition: amount > 100", (string?)stored["yaml"]);
        Assert.Equal("api", (string?)stored["source"]);
        await Http.ProblemAsync(await app.Client.PostAsync("/v1/agents:check", Http.RawJson("{}")), 400, Agentry.Api.ProblemTypes.ValidationFailed);
    }
}
