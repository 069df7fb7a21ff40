using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace Agentry.Tests.Tools;

/// <summary>A tool's limits hold whichever agent calls it, however often, in one turn or across conversations.</summary>
public sealed class ToolPolicyTests
{
    static async Task CreateAgentAsync(AgentryApp app, string id, string model) =>
        await Http.ExpectAsync(await app.Client.PutAsJsonAsync($"/v1/agents/{id}", new { name = "Cashier", model, tools = new[] { "refund" } }), HttpStatusCode.Created);

    static async Task<JsonObject> ChatAsync(AgentryApp app, object body) => await Http.JsonAsync(await app.Client.PostAsJsonAsync("/v1/chat", body));

    [Fact]
    public async Task An_agent_without_rules_still_needs_approval_above_the_tools_threshold_and_cannot_exceed_its_maximum()
    {
        await using var app = new AgentryApp();
        await CreateAgentAsync(app, "cashier", "offline");
        var held = await ChatAsync(app, new { message = "/tool refund {\"amount\": 250, \"reason\": \"broken\"}", agentId = "cashier" });
        Assert.Equal("pending_approval", (string?)held["status"]);
        var approval = await Http.JsonAsync(await app.Client.GetAsync($"/v1/admin/approvals/{held["pendingApprovalId"]}"));
        Assert.Equal("tool-policy:refund", (string?)approval["ruleId"]);

        var refused = await ChatAsync(app, new { message = "/tool refund {\"amount\": 20000, \"reason\": \"everything\"}", agentId = "cashier" });
        var tool = refused["messages"]!.AsArray().Single(m => (string?)m!["role"] == "tool")!;
        Assert.Equal("denied", (string?)tool["metadata"]!["outcome"]);
        Assert.Contains("above the limit of 10000 per call", (string?)tool["content"]);
    }

    [Fact]
    public async Task Eight_refunds_of_100_in_one_turn_stop_for_approval_once_the_conversation_total_is_reached()
    {
        await using var openAi = new FakeOpenAiServer();
        await using var app = new AgentryApp(openAi);
        await CreateAgentAsync(app, "cashier", "openai/gpt-4o");
        openAi.Enqueue(new FakeReply
        {
            ToolCalls = Enumerable.Range(1, 8).Select(i => ("refund", $"{{\"amount\": 100, \"reason\": \"item {i}\"}}")).ToList(),
        });
        var turn = await ChatAsync(app, new { message = "refund all eight items", agentId = "cashier" });
        Assert.Equal("pending_approval", (string?)turn["status"]);
        var outcomes = turn["messages"]!.AsArray().Where(m => (string?)m!["role"] == "tool").Select(m => (string)m!["metadata"]!["outcome"]!).ToArray();
        Assert.Equal(["success", "success", "pending-approval"], outcomes); // 200 without approval, the third waits
    }

    [Fact]
    public async Task The_same_refund_asked_twice_in_a_conversation_is_filed_once()
    {
        await using var app = new AgentryApp();
        var first = await ChatAsync(app, new { message = "/tool refund {\"amount\": 40, \"reason\": \"late\"}", agentId = "billing" });
        var conversation = (string)first["conversationId"]!;
        var again = await app.SendAsync(conversation, "/tool refund {\"amount\": 40, \"reason\": \"late\"}");
        var tool = again["messages"]!.AsArray().Single(m => (string?)m!["role"] == "tool")!;
        Assert.Equal("already-done", (string?)tool["metadata"]!["outcome"]);
        Assert.Contains("Refund request RF-", (string?)tool["content"]);
        JsonArray refunds = [];
        await Wait.UntilAsync(async () => (refunds = (await Http.JsonAsync(await app.Client.GetAsync("/v1/admin/audit?action=refund.requested")))["data"]!.AsArray()).Count > 0,
            because: "the refund is audited");
        Assert.Single(refunds);
    }

    [Fact]
    public async Task A_users_daily_total_counts_across_conversations()
    {
        await using var app = new AgentryApp(settings: new()
        {
            ["Tools:Policies:0:Tool"] = "refund", ["Tools:Policies:0:AmountArgument"] = "amount", ["Tools:Policies:0:ApprovalAbove"] = "100",
            ["Tools:Policies:0:MaxTotalPerUserPerDay"] = "150",
        });
        static string Refund(int order) => "/tool refund {\"amount\": 100, \"reason\": \"order " + order + "\"}";
        var one = await ChatAsync(app, new { message = Refund(1), agentId = "billing", userId = "alice" });
        Assert.Equal("completed", (string?)one["status"]);
        var two = await ChatAsync(app, new { message = Refund(2), agentId = "billing", userId = "alice" });
        Assert.Equal("pending_approval", (string?)two["status"]); // 200 today for alice, above 150
        var bob = await ChatAsync(app, new { message = Refund(3), agentId = "billing", userId = "bob" });
        Assert.Equal("completed", (string?)bob["status"]);
    }
}
