using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Xunit.Abstractions;

namespace Agentry.Tests.Operations;

/// <summary>Agents and one user's data moved between two installations with the command line, as an operator does it.</summary>
public sealed class TransferTests(ITestOutputHelper output) : IDisposable
{
    readonly string _work = Directory.CreateTempSubdirectory("agentry-transfer-").FullName;

    [Fact]
    public async Task Agents_exported_as_yaml_import_into_another_installation_identically_and_bad_files_are_refused_with_the_reason()
    {
        var source = Path.Combine(_work, "source");
        var exported = Path.Combine(_work, "exported");
        Dictionary<string, JsonObject> sourceAgents;
        await using (var app = new AgentryApp(settings: new() { ["Data:Directory"] = source }))
        {
            // An API agent with what YAML gets wrong most easily: multi-line text, quotes, colons, nested rules and choices.
            var put = await app.Client.PutAsJsonAsync("/v1/agents/returns-desk", new
            {
                name = "Returns desk",
                description = "Handles returns: \"no questions asked\" within 30 days.",
                instructions = "You handle returns.\nAsk for the order number first.\n\n  Indented line: keep it.",
                personality = new { role = "the returns clerk", tone = "calm", traits = new[] { "patient", "exact" }, greeting = "Hello: how can I help?" },
                rules = new object[] { new { id = "no-card-numbers", description = "Never repeat card numbers.", stage = "output", when = new { pii = new[] { "card" } }, action = "redact" } },
                tools = new[] { "calculator" },
                temperature = 0.3,
                maxOutputTokens = 500,
            });
            await Http.ExpectAsync(put, HttpStatusCode.Created);
            sourceAgents = await AgentsAsync(app.Client);
        }

        var (exitCode, text) = await AgentryProcess.RunCommandAsync(source, "export", "agents", "--to", exported);
        output.WriteLine(text);
        Assert.True(exitCode == 0, text);
        Assert.Equal(sourceAgents.Keys.Order(), Directory.GetFiles(exported, "*.yaml").Select(Path.GetFileNameWithoutExtension).Where(n => !n!.StartsWith('_')).Order());
        Assert.True(File.Exists(Path.Combine(exported, "_global.yaml")), "the global rules travel with the agents");
        Assert.Contains("instructions: |", await File.ReadAllTextAsync(Path.Combine(exported, "returns-desk.yaml")));

        // A file naming a tool the destination lacks is refused with the reason; the rest still import.
        await File.WriteAllTextAsync(Path.Combine(exported, "broken.yaml"), "name: Broken\ntools: [no-such-tool]\n");
        var destination = Path.Combine(_work, "destination");
        var noFileAgents = new Dictionary<string, string> { ["Agents:Directory"] = Directory.CreateDirectory(Path.Combine(_work, "empty-agents")).FullName };
        (exitCode, text) = await AgentryProcess.RunCommandAsync(destination, noFileAgents, "import", "agents", exported);
        output.WriteLine(text);
        Assert.Equal(1, exitCode);
        Assert.Matches("broken.yaml: refused 'broken': tools\\[0\\]: There is no tool named 'no-such-tool'", text);
        Assert.Contains($"{sourceAgents.Count} imported or unchanged, 1 refused.", text);

        File.Delete(Path.Combine(exported, "broken.yaml"));
        (exitCode, text) = await AgentryProcess.RunCommandAsync(destination, noFileAgents, "import", "agents", exported);
        Assert.True(exitCode == 0, text);
        Assert.Equal(sourceAgents.Count, text.Split('\n').Count(l => l.Contains(": unchanged '", StringComparison.Ordinal)));

        await using (var app = new AgentryApp(settings: new() { ["Data:Directory"] = destination, ["Agents:Directory"] = noFileAgents["Agents:Directory"] }))
        {
            var imported = await AgentsAsync(app.Client);
            Assert.Equal(sourceAgents.Keys.Order(), imported.Keys.Order());
            foreach (var (id, agent) in sourceAgents) Assert.Equal(agent.ToJsonString(), imported[id].ToJsonString());
            Assert.Equal(sourceAgents.Count, (await app.AuditEventsAsync("agents.imported")).Count);
            Assert.True((bool)(await Http.JsonAsync(await app.Client.GetAsync("/v1/admin/audit/verify")))["valid"]!);
        }
    }

    [Fact]
    public async Task One_users_data_moves_to_another_installation_once_and_nobody_elses_goes_with_it()
    {
        var source = Path.Combine(_work, "source");
        var file = Path.Combine(_work, "user.json");
        var conversations = new List<string>();
        Dictionary<string, string> messages = [];
        await using (var app = new AgentryApp(settings: new() { ["Data:Directory"] = source }))
        {
            foreach (var agent in new[] { "support", "billing" })
            {
                var id = (string)(await app.CreateConversationAsync(agent, userId: "u-42"))["id"]!;
                await app.SendAsync(id, $"Hello {agent}, my email is ana@example.com");
                await app.SendAsync(id, "And one more thing");
                conversations.Add(id);
                messages[id] = (await app.MessagesAsync(id)).ToJsonString();
            }
            var someoneElse = (string)(await app.CreateConversationAsync("support", userId: "u-7"))["id"]!;
            await app.SendAsync(someoneElse, "not yours to move");

            // The same document through the API (for a data-access request) as through the command line.
            var export = await Http.JsonAsync(await app.Client.GetAsync("/v1/admin/users/u-42/export"));
            Assert.Equal("agentry.user-data/1", (string?)export["format"]);
            Assert.Equal(conversations.Order(), export["conversations"]!.AsArray().Select(c => (string)c!["id"]!).Order());
            Assert.Equal(8, (int)export["messageCount"]!);
            await Http.ProblemAsync(await app.Client.GetAsync("/v1/admin/users/nobody/export"), 404, "urn:agentry:problem:user-not-found");
        }

        var (exitCode, text) = await AgentryProcess.RunCommandAsync(source, "export", "user", "u-42", "--to", file);
        Assert.True(exitCode == 0, text);
        Assert.Contains("Exported 2 conversation(s) and 8 message(s)", text);
        Assert.DoesNotContain("not yours to move", await File.ReadAllTextAsync(file));
        if (!OperatingSystem.IsWindows()) Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file)); // personal data: 0600

        var destination = Path.Combine(_work, "destination");
        var broken = Path.Combine(_work, "broken.json");
        await File.WriteAllTextAsync(broken, """{"format":"agentry.user-data/1","userId":"u-42","conversations":[{"id":"c1"}]}""");
        (exitCode, text) = await AgentryProcess.RunCommandAsync(destination, "import", "user", broken);
        Assert.Equal(1, exitCode);
        Assert.Contains("The file is incomplete", text);
        await File.WriteAllTextAsync(broken, """{"format":"agentry.user-data/1","userId":"u-42","conversations":[{"id":"c1","agentId":"support","messages":[{"id":"m1","role":"user"}],"approvals":[]}]}""");
        (exitCode, text) = await AgentryProcess.RunCommandAsync(destination, "import", "user", broken);
        Assert.Equal(1, exitCode);
        Assert.Contains("every message needs id, role, content and status", text);
        Assert.DoesNotContain("   at ", text); // one line for the operator, no stack trace

        (exitCode, text) = await AgentryProcess.RunCommandAsync(destination, "import", "user", file);
        Assert.True(exitCode == 0, text);
        Assert.Contains("Imported 2 conversation(s) with 8 message(s) for 'u-42'.", text);
        (exitCode, text) = await AgentryProcess.RunCommandAsync(destination, "import", "user", file);
        Assert.True(exitCode == 0, text);
        Assert.Contains("Imported 0 conversation(s) with 0 message(s) for 'u-42'; 2 were already here", text);

        await using (var app = new AgentryApp(settings: new() { ["Data:Directory"] = destination }))
        {
            foreach (var id in conversations) Assert.Equal(messages[id], (await app.MessagesAsync(id)).ToJsonString());
            var listed = await Http.JsonAsync(await app.Client.GetAsync("/v1/conversations?limit=200"));
            Assert.Equal(conversations.Order(), listed["data"]!.AsArray().Select(c => (string)c!["id"]!).Order());
            // The conversation goes on where it stopped.
            var before = JsonNode.Parse(messages[conversations[0]])!.AsArray();
            await app.SendAsync(conversations[0], "I am back");
            var after = await app.MessagesAsync(conversations[0]);
            Assert.Equal(before.Count + 2, after.Count);
            Assert.Equal((long)before.Last()!["sequence"]! + 2, (long)after.Last()!["sequence"]!);
            Assert.Single(await app.AuditEventsAsync("user.imported"),
                e => (int)e!["detail"]!["conversations"]! == 2);
            Assert.True((bool)(await Http.JsonAsync(await app.Client.GetAsync("/v1/admin/audit/verify")))["valid"]!);
        }
    }

    static async Task<Dictionary<string, JsonObject>> AgentsAsync(HttpClient client)
    {
        var page = await Http.JsonAsync(await client.GetAsync("/v1/agents?limit=100"));
        return page["data"]!.AsArray().Select(a => a!.AsObject()).ToDictionary(a => (string)a["id"]!, a =>
        {
            // Where an agent lives and when it was stored belong to the installation, not the definition.
            foreach (var key in new[] { "source", "file", "createdAt", "updatedAt" }) a.Remove(key);
            return a;
        });
    }

    public void Dispose()
    {
        try { Directory.Delete(_work, recursive: true); } catch (IOException) { }
    }
}
