using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Agentry.Api;

namespace Agentry.Tests.Agents;

public sealed class AgentsApiTests
{
    [Fact]
    public async Task Demo_agents_are_listed_from_their_files()
    {
        await using var app = new AgentryApp();
        var page = await Http.JsonAsync(await app.Client.GetAsync("/v1/agents"));
        var agents = page["data"]!.AsArray();
        Assert.Equal(["billing", "concierge", "plan-advice", "sales", "support"], agents.Select(a => (string)a!["id"]!).ToArray());
        Assert.All(agents, a => Assert.Equal("file", (string?)a!["source"]));
        var names = agents.Select(a => (string)a!["name"]!).ToHashSet();
        Assert.Equal(5, names.Count); // distinct personas

        var concierge = await Http.JsonAsync(await app.Client.GetAsync("/v1/agents/concierge"));
        Assert.Equal("concierge.yaml", (string?)concierge["file"]);
        Assert.Equal(["support", "sales", "billing"], concierge["handoffs"]!.AsArray().Select(h => (string)h!).ToArray());
        Assert.Equal("warm and welcoming", (string?)concierge["personality"]!["tone"]);

        await Http.ProblemAsync(await app.Client.GetAsync("/v1/agents/nope"), 404, ProblemTypes.AgentNotFound);
    }

    [Fact]
    public async Task Api_agents_can_be_created_read_replaced_and_deleted()
    {
        await using var app = new AgentryApp();
        var definition = new
        {
            id = "returns", name = "Rita", description = "Handles returns.", instructions = "Be brief.",
            personality = new { tone = "friendly", traits = new[] { "quick" }, greeting = "Hello from returns!" },
            rules = new[] { new { id = "receipt", description = "Ask for the receipt number." } },
            tools = new[] { "calculator" }, handoffs = new[] { "billing" }, temperature = 0.4, maxOutputTokens = 300,
        };
        var created = await app.Client.PostAsJsonAsync("/v1/agents", definition);
        await Http.ExpectAsync(created, HttpStatusCode.Created);
        Assert.Equal("/v1/agents/returns", created.Headers.Location?.ToString());
        var body = await Http.JsonAsync(created);
        Assert.Equal("api", (string?)body["source"]);
        Assert.NotNull(body["createdAt"]);

        await Http.ProblemAsync(await app.Client.PostAsJsonAsync("/v1/agents", definition), 409, ProblemTypes.AgentExists);

        var listed = await Http.JsonAsync(await app.Client.GetAsync("/v1/agents"));
        Assert.Contains(listed["data"]!.AsArray(), a => (string?)a!["id"] == "returns");

        // The new agent answers turns with its own persona.
        var turn = await Http.JsonAsync(await app.Client.PostAsJsonAsync("/v1/chat", new { message = "I want to return shoes", agentId = "returns" }));
        Assert.StartsWith("Hello from returns! This is Rita", (string?)turn["messages"]![1]!["content"]);

        var replaced = await app.Client.PutAsJsonAsync("/v1/agents/returns", new { id = "returns", name = "Rita R." });
        await Http.ExpectAsync(replaced, HttpStatusCode.OK);
        var fetched = await Http.JsonAsync(await app.Client.GetAsync("/v1/agents/returns"));
        Assert.Equal("Rita R.", (string?)fetched["name"]);
        Assert.Empty(fetched["tools"]!.AsArray()); // PUT replaces the whole definition

        Assert.Equal(HttpStatusCode.NoContent, (await app.Client.DeleteAsync("/v1/agents/returns")).StatusCode);
        await Http.ProblemAsync(await app.Client.GetAsync("/v1/agents/returns"), 404, ProblemTypes.AgentNotFound);
        await Http.ProblemAsync(await app.Client.DeleteAsync("/v1/agents/returns"), 404, ProblemTypes.AgentNotFound);
    }

    [Fact]
    public async Task File_defined_agents_cannot_be_changed_through_the_api()
    {
        await using var app = new AgentryApp();
        await Http.ProblemAsync(await app.Client.PostAsJsonAsync("/v1/agents", new { id = "billing", name = "Impostor" }), 409, ProblemTypes.AgentDefinedInFile);
        await Http.ProblemAsync(await app.Client.PutAsJsonAsync("/v1/agents/billing", new { id = "billing", name = "Impostor" }), 409, ProblemTypes.AgentDefinedInFile);
        await Http.ProblemAsync(await app.Client.DeleteAsync("/v1/agents/billing"), 409, ProblemTypes.AgentDefinedInFile);
        Assert.Equal("Ben", (string?)(await Http.JsonAsync(await app.Client.GetAsync("/v1/agents/billing")))["name"]);
    }

    [Fact]
    public async Task Invalid_definitions_are_rejected_field_by_field()
    {
        await using var app = new AgentryApp();
        var response = await app.Client.PostAsJsonAsync("/v1/agents", new
        {
            id = "Bad Id!", name = "", temperature = 3.5, maxOutputTokens = 0,
            personality = new { greeting = new string('x', 600) },
            rules = new[] { new { id = "r", description = "" } },
            handoffs = new[] { "Not A Slug" },
        });
        var problem = await Http.ProblemAsync(response, 400, ProblemTypes.ValidationFailed);
        var errors = problem["errors"]!.AsObject().Select(e => e.Key).ToHashSet();
        Assert.Superset(new HashSet<string> { "id", "name", "temperature", "maxOutputTokens", "personality.greeting", "rules[0].description", "handoffs[0]" }, errors);

        var unknownTool = await Http.ProblemAsync(await app.Client.PostAsJsonAsync("/v1/agents", new { id = "x", name = "X", tools = new[] { "teleport" } }), 400, ProblemTypes.ValidationFailed);
        Assert.Contains("teleport", (string?)unknownTool["errors"]!["tools[0]"]![0]);

        var unknownModel = await Http.ProblemAsync(await app.Client.PostAsJsonAsync("/v1/agents", new { id = "x", name = "X", model = "nowhere/gpt" }), 400, ProblemTypes.ValidationFailed);
        Assert.Contains("Models:Endpoints:nowhere", (string?)unknownModel["errors"]!["model"]![0]);

        await Http.ProblemAsync(await app.Client.PostAsync("/v1/agents", Http.RawJson("{\"id\":\"x\",\"name\":\"X\",\"colour\":\"red\"}")), 400, ProblemTypes.InvalidJson);
        await Http.ProblemAsync(await app.Client.PutAsJsonAsync("/v1/agents/x", new { id = "y", name = "Y" }), 400, ProblemTypes.ValidationFailed);

        var all = await Http.JsonAsync(await app.Client.GetAsync("/v1/agents"));
        Assert.Equal(5, all["data"]!.AsArray().Count); // nothing was written
    }

    [Fact]
    public async Task Reload_picks_up_file_changes_and_keeps_the_old_set_when_a_file_is_broken()
    {
        var folder = Directory.CreateTempSubdirectory("agentry-agents-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(folder, "helper.yaml"), "id: helper\nname: Hal\n");
            await using var app = new AgentryApp(settings: new() { ["Agents:Directory"] = folder });
            Assert.Equal("Hal", (string?)(await Http.JsonAsync(await app.Client.GetAsync("/v1/agents/helper")))["name"]);

            File.WriteAllText(Path.Combine(folder, "helper.yaml"), "id: helper\nname: Hal 2\n");
            File.WriteAllText(Path.Combine(folder, "extra.yml"), "name: Extra\n"); // id defaults to the file name
            var reloaded = await Http.JsonAsync(await app.Client.PostAsync("/v1/agents:reload", null));
            Assert.Equal(["extra", "helper"], reloaded["agents"]!.AsArray().Select(a => (string)a!).ToArray());
            Assert.Equal("Hal 2", (string?)(await Http.JsonAsync(await app.Client.GetAsync("/v1/agents/helper")))["name"]);

            File.WriteAllText(Path.Combine(folder, "broken.yaml"), "id: broken\nname: B\ntemperature: [oops\n");
            var failed = await Http.ProblemAsync(await app.Client.PostAsync("/v1/agents:reload", null), 422, ProblemTypes.AgentsReloadFailed);
            var fileErrors = failed["fileErrors"]!.AsArray().Select(e => (string)e!).ToList();
            Assert.Contains(fileErrors, e => e.StartsWith("broken.yaml, line ", StringComparison.Ordinal));
            Assert.Equal(HttpStatusCode.OK, (await app.Client.GetAsync("/v1/agents/extra")).StatusCode); // previous set still in force
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public async Task A_broken_agent_file_stops_start_up_with_the_file_and_problem()
    {
        var folder = Directory.CreateTempSubdirectory("agentry-agents-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(folder, "bad.yaml"), "id: bad\nname: Bad\ntemperature: 9\n");
            var (exitCode, output) = await AgentryProcess.RunCommandAsync(folder, new Dictionary<string, string> { ["Agents:Directory"] = folder });
            Assert.True(exitCode != 0, output);
            Assert.Contains("bad.yaml: temperature: Must be between 0 and 2.", output);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public async Task Only_an_admin_key_gives_an_agent_tools_that_reach_outside_or_move_money()
    {
        // A server the operator configured (it need not answer for an agent to name its tools).
        await using var app = new AgentryApp(settings: new() { ["Mcp:Servers:fs:Transport"] = "http", ["Mcp:Servers:fs:Url"] = "http://127.0.0.1:9/mcp" });
        var writer = app.CreateApiClient((await app.CreateKeyAsync("agent-author", ["agents:write", "read"])).Secret);

        // Every tool of every connected server was one agents:write key away.
        foreach (var mcp in new[] { "mcp:fs/*", "mcp:fs/read_file" })
            Assert.Contains(mcp, (string?)(await Http.ProblemAsync(await writer.PutAsJsonAsync("/v1/agents/snoop", new { name = "Snoop", tools = new[] { mcp } }), 403,
                ProblemTypes.ToolGrantForbidden))["detail"]);
        var refund = await writer.PutAsJsonAsync("/v1/agents/payout", new { name = "Payout", tools = new[] { "calculator", "refund" } });
        var problem = await Http.ProblemAsync(refund, 403, ProblemTypes.ToolGrantForbidden);
        Assert.Contains("refund", (string?)problem["detail"]);
        await Http.ProblemAsync(await writer.PostAsJsonAsync("/v1/agents", new { id = "fetcher", name = "Fetcher", tools = new[] { "http_get" } }), 403,
            ProblemTypes.ToolGrantForbidden);
        await Http.ProblemAsync(await writer.GetAsync("/v1/agents/payout"), 404, ProblemTypes.AgentNotFound); // nothing was stored

        // Harmless tools are the author's to give; an admin grants the rest.
        await Http.ExpectAsync(await writer.PutAsJsonAsync("/v1/agents/helper", new { name = "Helper", tools = new[] { "calculator", "current_time" } }), HttpStatusCode.Created);
        await Http.ExpectAsync(await app.Client.PutAsJsonAsync("/v1/agents/payout", new { name = "Payout", tools = new[] { "refund" } }), HttpStatusCode.Created);
        // The author may then edit the agent and keep what an admin granted, but not add more.
        await Http.ExpectAsync(await writer.PutAsJsonAsync("/v1/agents/payout", new { name = "Payout", instructions = "Be brief.", tools = new[] { "refund" } }),
            HttpStatusCode.OK);
        await Http.ProblemAsync(await writer.PutAsJsonAsync("/v1/agents/payout", new { name = "Payout", tools = new[] { "refund", "http_get" } }), 403,
            ProblemTypes.ToolGrantForbidden);
    }

    [Fact]
    public async Task The_sample_help_desk_is_served_only_while_samples_are_on_and_production_says_so()
    {
        await using (var withoutSamples = new AgentryApp(settings: new() { ["Agents:Samples"] = "false" }))
            Assert.Empty((await Http.JsonAsync(await withoutSamples.Client.GetAsync("/v1/agents")))["data"]!.AsArray());

        var folder = Directory.CreateTempSubdirectory("agentry-samples-").FullName;
        try
        {
            await using var production = new AgentryProcess(folder); // the published default: samples on
            var client = await production.StartedAsync();
            var ids = (await Http.JsonAsync(await client.GetAsync("/v1/agents")))["data"]!.AsArray().Select(a => (string)a!["id"]!).ToArray();
            Assert.Equal(["billing", "concierge", "plan-advice", "sales", "support"], ids);
            Assert.Contains("Serving the 5 bundled sample agents", production.Output);
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(folder, recursive: true);
        }
    }
}
