using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace Agentry.Tests.Tools;

public sealed class ToolTests
{
    [Fact]
    public async Task Tools_are_listed_with_the_agents_that_may_use_them()
    {
        await using var app = new AgentryApp();
        var tools = JsonNode.Parse(await app.Client.GetStringAsync("/v1/tools"))!.AsArray();
        var refund = tools.Single(t => (string?)t!["name"] == "refund")!;
        Assert.Equal(["billing"], refund["agents"]!.AsArray().Select(a => (string)a!).ToArray());
        Assert.True((bool)refund["enabled"]!);
        Assert.Equal("number", (string?)refund["parameters"]!["properties"]!["amount"]!["type"]);
        Assert.False((bool)tools.Single(t => (string?)t!["name"] == "http_get")!["enabled"]!); // off until hosts are allowed
        Assert.Contains(tools, t => (string?)t!["name"] == "calculator");
    }

    [Fact]
    public async Task Http_get_fetches_only_allowed_hosts_within_the_timeout_and_size_cap()
    {
        await using var web = new FakeOpenAiServer();
        await using var openAi = new FakeOpenAiServer();
        var host = new Uri(web.RootUrl);
        await using var app = new AgentryApp(openAi, new()
        {
            ["Tools:HttpGetAllowedHosts:0"] = host.Host, ["Tools:Timeout"] = "00:00:02", ["Tools:MaxResultChars"] = "300",
        });
        await Http.ExpectAsync(await app.Client.PutAsJsonAsync("/v1/agents/researcher", new { id = "researcher", name = "R", tools = new[] { "http_get" } }),
            System.Net.HttpStatusCode.Created);

        openAi.Enqueue(
            FakeReply.CallTool("http_get", $"{{\"url\":\"{web.RootUrl}/page?size=10\"}}"),
            FakeReply.CallTool("http_get", "{\"url\":\"http://example.org/\"}"),
            FakeReply.CallTool("http_get", $"{{\"url\":\"{web.RootUrl}/page?delayMs=60000\"}}"),
            FakeReply.CallTool("http_get", $"{{\"url\":\"{web.RootUrl}/page?size=5000\"}}"),
            FakeReply.Say("done"));
        var turn = await Http.JsonAsync(await app.Client.PostAsJsonAsync("/v1/chat", new { message = "research", agentId = "researcher" }));
        var tools = turn["messages"]!.AsArray().Where(m => (string?)m!["role"] == "tool").ToList();
        Assert.Equal(["success", "error", "timeout", "success"], tools.Select(t => (string)t!["metadata"]!["outcome"]!).ToArray());
        Assert.Contains("<p>xxxxxxxxxx</p>", (string?)tools[0]!["content"]);
        Assert.Contains("is not on the allowed list", (string?)tools[1]!["content"]);
        Assert.Contains("did not finish within 2 s", (string?)tools[2]!["content"]);
        Assert.EndsWith("…[truncated]", (string?)tools[3]!["content"]);
        Assert.Equal("done", (string?)turn["messages"]!.AsArray().Last()!["content"]);
    }

    [Fact]
    public async Task Tool_calls_beyond_the_per_turn_limit_are_refused_and_unknown_tools_reported()
    {
        await using var openAi = new FakeOpenAiServer();
        await using var app = new AgentryApp(openAi, new() { ["Tools:MaxCallsPerTurn"] = "2" });
        openAi.Enqueue(
            FakeReply.CallTool("calculator", "{\"expression\":\"1+1\"}"),
            FakeReply.CallTool("teleport", "{}"),
            FakeReply.CallTool("calculator", "{\"expression\":\"2+2\"}"),
            FakeReply.Say("stopping"));
        var turn = await Http.JsonAsync(await app.Client.PostAsJsonAsync("/v1/chat", new { message = "count", agentId = "sales" }));
        var outcomes = turn["messages"]!.AsArray().Where(m => (string?)m!["role"] == "tool").Select(t => (string)t!["metadata"]!["outcome"]!).ToArray();
        Assert.Equal(["success", "unknown-tool", "limit-reached"], outcomes);
        Assert.Equal("stopping", (string?)turn["messages"]!.AsArray().Last()!["content"]);
    }
}
