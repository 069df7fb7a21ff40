using System.Net.Http.Json;

namespace Agentry.Tests.Models;

public sealed class OfflineModelTests
{
    [Fact]
    public async Task Tool_directive_calls_the_tool_and_reports_its_result()
    {
        await using var app = new AgentryApp();
        var id = (string)(await app.CreateConversationAsync("sales"))["id"]!;
        var turn = await app.SendAsync(id, "/tool calculator {\"expression\": \"(2+3)*4\"}");
        var messages = turn["messages"]!.AsArray();
        Assert.Equal(["user", "tool", "assistant"], messages.Select(m => (string)m!["role"]!).ToArray());
        Assert.Equal("20", (string?)messages[1]!["content"]);
        Assert.Equal("calculator", (string?)messages[1]!["metadata"]!["toolName"]);
        Assert.Equal("(2+3)*4", (string?)messages[1]!["metadata"]!["arguments"]!["expression"]);
        Assert.Equal("calculator returned: 20", (string?)messages[2]!["content"]);
        Assert.Equal("offline", (string?)turn["model"]);
    }

    [Fact]
    public async Task Tool_directive_streams_tool_events()
    {
        await using var app = new AgentryApp();
        using var response = await Sse.StartAsync(app.Client, "/v1/chat", new { message = "/tool current_time", agentId = "billing" });
        var events = await Sse.ReadAllAsync(response);
        var call = events.Single(e => e.Type == "tool.call").Data!;
        Assert.Equal("current_time", (string?)call["name"]);
        var result = events.Single(e => e.Type == "tool.result").Data!;
        Assert.True(DateTimeOffset.TryParse((string?)result["result"], out _));
        Assert.Equal("turn.completed", events[^1].Type);
    }

    [Fact]
    public async Task Tool_failures_go_back_to_the_model_instead_of_failing_the_turn()
    {
        await using var app = new AgentryApp();
        var turn = await Http.JsonAsync(await app.Client.PostAsJsonAsync("/v1/chat", new { message = "/tool calculator {\"expression\": \"1/0\"}", agentId = "sales" }));
        var messages = turn["messages"]!.AsArray();
        Assert.StartsWith("Error:", (string?)messages[1]!["content"]);
        Assert.Equal("assistant", (string?)messages[2]!["role"]);
    }

    [Fact]
    public async Task Unknown_tool_bad_arguments_and_handoff_without_targets_are_explained()
    {
        await using var app = new AgentryApp();
        var id = (string)(await app.CreateConversationAsync("sales"))["id"]!;
        var unknown = await app.SendAsync(id, "/tool teleport {}");
        Assert.Equal("This agent has no tool named 'teleport'. Available tools: calculator.", (string?)unknown["messages"]![1]!["content"]);

        var badArgs = await app.SendAsync(id, "/tool calculator {not json");
        Assert.StartsWith("The arguments for /tool calculator must be a JSON object", (string?)badArgs["messages"]![1]!["content"]);

        var handoff = await app.SendAsync(id, "/handoff concierge");
        Assert.Contains("cannot hand this conversation to 'concierge'", (string?)handoff["messages"]![1]!["content"]);
    }
}
