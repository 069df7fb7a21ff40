using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace Agentry.Tests.Agents;

public sealed class HandoffTests
{
    [Fact]
    public async Task Offline_handoff_moves_the_conversation_and_the_new_agent_answers_in_the_same_turn()
    {
        await using var app = new AgentryApp();
        var id = (string)(await app.CreateConversationAsync("concierge"))["id"]!;
        var turn = await app.SendAsync(id, "/handoff billing");

        Assert.Equal("billing", (string?)turn["agentId"]);
        var messages = turn["messages"]!.AsArray();
        Assert.Equal(["user", "handoff", "assistant"], messages.Select(m => (string)m!["role"]!).ToArray());
        var handoff = messages[1]!;
        Assert.Equal("concierge", (string?)handoff["metadata"]!["from"]);
        Assert.Equal("billing", (string?)handoff["metadata"]!["to"]);
        Assert.Equal("requested with /handoff", (string?)handoff["metadata"]!["reason"]);
        var reply = messages[2]!;
        Assert.Equal("billing", (string?)reply["agentId"]);
        Assert.StartsWith("This is Ben", (string?)reply["content"]); // no second greeting after a handoff

        var conversation = await Http.JsonAsync(await app.Client.GetAsync($"/v1/conversations/{id}"));
        Assert.Equal("billing", (string?)conversation["agentId"]);
        var next = await app.SendAsync(id, "thanks");
        Assert.Equal("billing", (string?)next["agentId"]); // the next turn goes to the new agent
    }

    [Fact]
    public async Task Handoff_is_visible_in_the_stream_with_the_speaking_agent_on_every_delta()
    {
        await using var app = new AgentryApp();
        using var response = await Sse.StartAsync(app.Client, "/v1/chat", new { message = "/handoff support" });
        var events = await Sse.ReadAllAsync(response);
        var handoff = events.Single(e => e.Type == "handoff").Data!;
        Assert.Equal("concierge", (string?)handoff["from"]);
        Assert.Equal("support", (string?)handoff["to"]);
        var deltas = events.Where(e => e.Type == "message.delta").ToList();
        Assert.NotEmpty(deltas);
        Assert.All(deltas, d => Assert.Equal("support", (string?)d.Data!["agentId"]));
        Assert.Equal("support", (string?)events[^1].Data!["agentId"]);
    }

    [Fact]
    public async Task Provider_issued_transfer_calls_hand_off_and_the_next_agent_sees_only_the_conversation_text()
    {
        await using var openAi = new FakeOpenAiServer();
        await using var app = new AgentryApp(openAi);
        openAi.Enqueue(FakeReply.CallTool("transfer_to_billing", "{\"reason\":\"double charge\"}"), FakeReply.Say("Ben here, let me look at that charge."));

        var turn = await Http.JsonAsync(await app.Client.PostAsJsonAsync("/v1/chat", new { message = "I was charged twice", agentId = "support" }));
        Assert.Equal("billing", (string?)turn["agentId"]);
        Assert.Equal("double charge", (string?)turn["messages"]![1]!["metadata"]!["reason"]);
        Assert.Equal("Ben here, let me look at that charge.", (string?)turn["messages"]![2]!["content"]);

        var first = openAi.Requests[0];
        Assert.Contains(first.Body["tools"]!.AsArray(), t => (string?)t!["function"]!["name"] == "transfer_to_billing");
        var second = openAi.Requests[1];
        Assert.StartsWith("You are Ben", FakeRequest.Text(second.Messages[0]));
        Assert.Contains("You have just received this conversation from support.", FakeRequest.Text(second.Messages[0]));
        Assert.Matches(Fence.Open("handoff reason") + "double charge", FakeRequest.Text(second.Messages[0])); // the reason is data, not an instruction
        Assert.DoesNotContain(second.Messages, m => (string?)m!["role"] == "tool" || m!["tool_calls"] is not null);
        Assert.Equal("I was charged twice", second.LastUserText);
    }

    [Fact]
    public async Task Handoff_loops_stop_at_the_per_turn_limit()
    {
        await using var openAi = new FakeOpenAiServer();
        await using var app = new AgentryApp(openAi, new() { ["Conversations:MaxHandoffsPerTurn"] = "2" });
        // billing and support keep passing the user to each other.
        openAi.Enqueue(
            FakeReply.CallTool("transfer_to_support", "{\"reason\":\"1\"}"),
            FakeReply.CallTool("transfer_to_billing", "{\"reason\":\"2\"}"),
            FakeReply.CallTool("transfer_to_support", "{\"reason\":\"3\"}"),
            FakeReply.Say("Fine, I will help you myself."));
        var turn = await Http.JsonAsync(await app.Client.PostAsJsonAsync("/v1/chat", new { message = "help", agentId = "billing" }));

        var roles = turn["messages"]!.AsArray().Select(m => (string)m!["role"]!).ToArray();
        Assert.Equal(["user", "handoff", "handoff", "assistant"], roles);
        Assert.Equal("billing", (string?)turn["agentId"]);
        // The refused third transfer went back to the model as a tool error.
        var refused = openAi.Requests[3].Messages.Single(m => (string?)m!["role"] == "tool");
        Assert.Contains("the most allowed", FakeRequest.Text(refused));
    }

    [Fact]
    public async Task Transfers_to_agents_that_are_not_targets_are_refused_to_the_model()
    {
        await using var openAi = new FakeOpenAiServer();
        await using var app = new AgentryApp(openAi);
        openAi.Enqueue(FakeReply.CallTool("transfer_to_concierge", "{\"reason\":\"x\"}"), FakeReply.Say("ok"));
        var turn = await Http.JsonAsync(await app.Client.PostAsJsonAsync("/v1/chat", new { message = "help", agentId = "billing" }));
        Assert.Equal("billing", (string?)turn["agentId"]);
        var refused = openAi.Requests[1].Messages.Single(m => (string?)m!["role"] == "tool");
        Assert.Contains("not one of this agent's handoff targets", FakeRequest.Text(refused));
    }

    static object Escalate(string id, string keyword, string to) =>
        new { id, description = $"{keyword} goes to {to}", stage = "input", when = new { keywords = new[] { keyword } }, action = "escalate", escalateTo = to };

    [Fact]
    public async Task The_escalation_rule_of_an_agent_that_takes_over_hands_the_turn_on_again()
    {
        await using var app = new AgentryApp();
        await Http.ExpectAsync(await app.Client.PutAsJsonAsync("/v1/agents/specialist", new { name = "Specialist" }), HttpStatusCode.Created);
        await Http.ExpectAsync(await app.Client.PutAsJsonAsync("/v1/agents/desk", new { name = "Desk", rules = new[] { Escalate("disputes", "dispute", "specialist") } }),
            HttpStatusCode.Created);
        await Http.ExpectAsync(await app.Client.PutAsJsonAsync("/v1/agents/front", new { name = "Front", rules = new[] { Escalate("invoices", "invoice", "desk") } }),
            HttpStatusCode.Created);

        var turn = await Http.JsonAsync(await app.Client.PostAsJsonAsync("/v1/chat", new { message = "I dispute this invoice", agentId = "front" }));
        Assert.Equal("specialist", (string?)turn["agentId"]);
        var messages = turn["messages"]!.AsArray();
        Assert.Equal(["user", "handoff", "handoff", "assistant"], messages.Select(m => (string)m!["role"]!).ToArray());
        Assert.Equal("desk", (string?)messages[1]!["metadata"]!["to"]);
        Assert.Equal("specialist", (string?)messages[2]!["metadata"]!["to"]);
        Assert.Equal("specialist", (string?)messages[3]!["agentId"]);
    }

    [Fact]
    public async Task Agents_escalating_to_each_other_stop_at_the_per_turn_handoff_limit()
    {
        await using var app = new AgentryApp(settings: new() { ["Conversations:MaxHandoffsPerTurn"] = "3" });
        await Http.ExpectAsync(await app.Client.PutAsJsonAsync("/v1/agents/ping", new { name = "Ping", rules = new[] { Escalate("to-pong", "ball", "pong") } }),
            HttpStatusCode.Created);
        await Http.ExpectAsync(await app.Client.PutAsJsonAsync("/v1/agents/pong", new { name = "Pong", rules = new[] { Escalate("to-ping", "ball", "ping") } }),
            HttpStatusCode.Created);
        var turn = await Http.JsonAsync(await app.Client.PostAsJsonAsync("/v1/chat", new { message = "the ball", agentId = "ping" }));
        var roles = turn["messages"]!.AsArray().Select(m => (string)m!["role"]!).ToArray();
        Assert.Equal(["user", "handoff", "handoff", "handoff", "assistant"], roles);
        Assert.Equal("pong", (string?)turn["agentId"]);
    }
}
