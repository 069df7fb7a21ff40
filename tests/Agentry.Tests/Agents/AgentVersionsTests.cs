using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Agentry.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Agentry.Tests.Agents;

/// <summary>Every change to an agent is an immutable version: listed with its diff, recorded on the replies it wrote, restorable.</summary>
public sealed class AgentVersionsTests
{
    static object Agent(string instructions, string[]? tools = null) => new
    {
        name = "Vera", description = "Versioned agent", instructions, model = "offline", tools = tools ?? ["calculator"],
    };

    [Fact]
    public async Task Changes_are_versions_with_diffs_replies_name_their_version_and_an_old_one_can_be_restored()
    {
        await using var app = new AgentryApp();
        await Http.ExpectAsync(await app.Client.PutAsJsonAsync("/v1/agents/vera", Agent("Refunds up to 100 USD can be promised.")), HttpStatusCode.Created);
        await Http.ExpectAsync(await app.Client.PutAsJsonAsync("/v1/agents/vera", Agent("Refunds up to 100 USD can be promised.")), HttpStatusCode.OK); // no change, no version
        var changed = await Http.JsonAsync(await app.Client.PutAsJsonAsync("/v1/agents/vera", Agent("Be brief.")));

        var versions = (await Http.JsonAsync(await app.Client.GetAsync("/v1/agents/vera/versions")))["data"]!.AsArray();
        Assert.Equal([2, 1], versions.Select(v => (int)v!["version"]!));
        Assert.Equal("api", (string?)versions[0]!["source"]);
        Assert.True((bool)versions[0]!["current"]!);
        Assert.Equal(["instructions"], versions[0]!["changed"]!.AsArray().Select(c => (string)c!));
        Assert.StartsWith("key_", (string?)versions[0]!["authorKeyId"]);
        Assert.Equal((string?)changed["version"], (string?)versions[0]!["hash"]);

        var second = await Http.JsonAsync(await app.Client.GetAsync("/v1/agents/vera/versions/2"));
        Assert.Contains("Be brief.", (string)second["yaml"]!);
        var diff = second["diff"]!.AsArray().Select(l => (string)l!).ToList();
        Assert.Contains(diff, l => l.StartsWith("- ", StringComparison.Ordinal) && l.Contains("Refunds up to 100 USD", StringComparison.Ordinal));
        Assert.Contains(diff, l => l.StartsWith("+ ", StringComparison.Ordinal) && l.Contains("Be brief.", StringComparison.Ordinal));

        // A reply names the version of the agent that wrote it.
        var turn = await Http.JsonAsync(await app.Client.PostAsJsonAsync("/v1/chat", new { agentId = "vera", message = "hello" }));
        var reply = turn["messages"]!.AsArray().Last(m => (string?)m!["role"] == "assistant")!;
        Assert.Equal((string?)versions[0]!["hash"], (string?)reply["agentVersion"]);

        // Restoring version 1 makes it current again, as a new version, audited.
        var restored = await Http.JsonAsync(await app.Client.PostAsync("/v1/agents/vera/versions/1/restore", null));
        Assert.Equal("Refunds up to 100 USD can be promised.", (string?)restored["instructions"]);
        Assert.Equal((string?)versions[1]!["hash"], (string?)restored["version"]);
        var after = (await Http.JsonAsync(await app.Client.GetAsync("/v1/agents/vera/versions")))["data"]!.AsArray();
        Assert.Equal(3, (int)after[0]!["version"]!);
        Assert.Equal("restore", (string?)after[0]!["source"]);
        Assert.Equal(1, (int?)after[0]!["restoredFrom"]);
        Assert.Equal("Refunds up to 100 USD can be promised.", (string?)(await Http.JsonAsync(await app.Client.GetAsync("/v1/agents/vera")))["instructions"]);
        await Wait.UntilAsync(async () =>
        {
            await using var scope = app.Services.CreateAsyncScope();
            return await scope.ServiceProvider.GetRequiredService<AgentryDbContext>().AuditEvents.AnyAsync(e => e.Action == "agent.restored" && e.Target == "agent:vera");
        }, because: "the restore is audited");

        await Http.ProblemAsync(await app.Client.PostAsync("/v1/agents/vera/versions/9/restore", null), 404, "urn:agentry:problem:agent-version-not-found");
        await Http.ProblemAsync(await app.Client.GetAsync("/v1/agents/vera/versions/9"), 404, "urn:agentry:problem:agent-version-not-found");
    }

    [Fact]
    public async Task File_agents_have_versions_and_are_restored_by_their_file_and_a_restore_grants_no_more_than_the_key_may()
    {
        await using var app = new AgentryApp();
        var billing = (await Http.JsonAsync(await app.Client.GetAsync("/v1/agents/billing/versions")))["data"]!.AsArray();
        var first = Assert.Single(billing)!;
        Assert.Equal("file", (string?)first["source"]);
        Assert.Equal((string?)(await Http.JsonAsync(await app.Client.GetAsync("/v1/agents/billing")))["version"], (string?)first["hash"]);
        var refused = await Http.ProblemAsync(await app.Client.PostAsync("/v1/agents/billing/versions/1/restore", null), 409, "urn:agentry:problem:agent-defined-in-file");
        Assert.Contains("billing.yaml", (string)refused["detail"]!);

        // An admin gave the agent http_get, then took it away; an author key cannot bring it back by restoring.
        await app.Client.PutAsJsonAsync("/v1/agents/fetcher", Agent("Fetch pages.", ["http_get"]));
        await app.Client.PutAsJsonAsync("/v1/agents/fetcher", Agent("Fetch pages.", ["calculator"]));
        var (_, author) = await app.CreateKeyAsync("author", ["agents:write", "read"]);
        var authorClient = app.CreateApiClient(author);
        await Http.ProblemAsync(await authorClient.PostAsync("/v1/agents/fetcher/versions/1/restore", null), 403, "urn:agentry:problem:tool-grant-forbidden");
        await Http.ExpectAsync(await app.Client.PostAsync("/v1/agents/fetcher/versions/1/restore", null), HttpStatusCode.OK);
    }

    [Fact]
    public async Task A_file_edited_while_the_service_watches_its_folder_is_a_new_version()
    {
        using var folder = new TempFolder("agentry-agents-");
        var agents = folder.Path;
        await File.WriteAllTextAsync(Path.Combine(agents, "night.yaml"), "id: night\nname: Nora\ndescription: Answers at night.\ninstructions: Be brief.\nmodel: offline\n");
        await using var app = new AgentryApp(settings: new() { ["Agents:Directory"] = agents, ["Agents:Watch"] = "true" });
        Assert.Single((await Http.JsonAsync(await app.Client.GetAsync("/v1/agents/night/versions")))["data"]!.AsArray());

        await File.WriteAllTextAsync(Path.Combine(agents, "night.yaml"), "id: night\nname: Nora\ndescription: Answers at night.\ninstructions: Be kind.\nmodel: offline\n");
        JsonArray versions = [];
        await Wait.UntilAsync(async () => (versions = (await Http.JsonAsync(await app.Client.GetAsync("/v1/agents/night/versions")))["data"]!.AsArray()).Count == 2,
            because: "the watcher reloads the folder and records the change");
        Assert.Equal("file", (string?)versions[0]!["source"]);
        Assert.Equal(["instructions"], versions[0]!["changed"]!.AsArray().Select(c => (string)c!));
    }
}
