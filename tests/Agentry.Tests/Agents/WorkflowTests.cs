using System.Net;
using System.Net.Http.Json;

namespace Agentry.Tests.Agents;

public sealed class WorkflowTests
{
    [Fact]
    public async Task A_sequential_workflow_feeds_each_output_to_the_next_agent()
    {
        await using var openAi = new FakeOpenAiServer();
        await using var app = new AgentryApp(openAi);
        openAi.Enqueue(FakeReply.Say("Draft: take the Team plan, 25 USD per user."), FakeReply.Say("Reviewed: correct, SSO is included in Team."));

        var turn = await Http.JsonAsync(await app.Client.PostAsJsonAsync("/v1/chat", new { message = "Which plan for 12 people who need SSO?", agentId = "plan-advice" }));
        Assert.Equal("plan-advice", (string?)turn["agentId"]);
        var replies = turn["messages"]!.AsArray().Where(m => (string?)m!["role"] == "assistant").ToList();
        Assert.Equal(["sales", "support"], replies.Select(m => (string)m!["agentId"]!).ToArray());
        Assert.Equal("Reviewed: correct, SSO is included in Team.", (string?)replies[1]!["content"]);

        Assert.StartsWith("You are Maya", FakeRequest.Text(openAi.Requests[0].Messages[0]));
        Assert.StartsWith("You are Sam", FakeRequest.Text(openAi.Requests[1].Messages[0]));
        // The previous member's output arrives fenced as data: a member cannot instruct the next one.
        Assert.Matches("Output of sales:\n" + Fence.Open("agent sales") + "Draft: take the Team plan", openAi.Requests[1].LastUserText);
        Assert.Equal((string?)turn["conversationId"], (string?)(await Http.JsonAsync(await app.Client.GetAsync($"/v1/conversations/{turn["conversationId"]}")))["id"]);
        Assert.Equal("plan-advice", (string?)(await Http.JsonAsync(await app.Client.GetAsync($"/v1/conversations/{turn["conversationId"]}")))["agentId"]);
    }

    [Fact]
    public async Task A_group_workflow_takes_turns_until_the_stop_phrase_and_streams_each_speaker()
    {
        await using var openAi = new FakeOpenAiServer();
        await using var app = new AgentryApp(openAi);
        await Http.ExpectAsync(await app.Client.PutAsJsonAsync("/v1/agents/panel", new
        {
            id = "panel", name = "Panel", workflow = new { type = "group", agents = new[] { "sales", "billing" }, maxRounds = 6, until = "APPROVED" },
        }), HttpStatusCode.Created);
        openAi.Enqueue(FakeReply.Say("Offer 10% off."), FakeReply.Say("Too much; 5%."), FakeReply.Say("Fine, 5%."), FakeReply.Say("APPROVED at 5%."));

        using var response = await Sse.StartAsync(app.Client, "/v1/chat", new { message = "Can this customer get a discount?", agentId = "panel" });
        var events = await Sse.ReadAllAsync(response);
        var steps = events.Where(e => e.Type == "workflow.step").Select(e => (string)e.Data!["agentId"]!).ToArray();
        Assert.Equal(["sales", "billing", "sales", "billing"], steps);
        Assert.Equal(4, openAi.Requests.Count); // stopped at APPROVED, not at maxRounds
        var turn = events.Single(e => e.Type == "turn.completed").Data!;
        Assert.Equal("workflow_done", (string?)turn["messages"]!.AsArray().Last()!["finishReason"]);

        // The third speaker (sales again) saw billing's objection as a labelled user message and its own earlier reply as its own.
        var third = openAi.Requests[2].Messages;
        Assert.Contains(third, m => (string?)m!["role"] == "user" && FakeRequest.Text(m).StartsWith("[billing]\n", StringComparison.Ordinal)
            && Fence.Around("agent billing", "Too much; 5%.").IsMatch(FakeRequest.Text(m)));
        Assert.Contains(third, m => (string?)m!["role"] == "assistant" && FakeRequest.Text(m) == "Offer 10% off.");
    }

    [Fact]
    public async Task The_offline_model_runs_workflows_too()
    {
        await using var app = new AgentryApp();
        var turn = await Http.JsonAsync(await app.Client.PostAsJsonAsync("/v1/chat", new { message = "Which plan fits 12 people?", agentId = "plan-advice" }));
        var replies = turn["messages"]!.AsArray().Where(m => (string?)m!["role"] == "assistant").Select(m => (string)m!["content"]!).ToList();
        Assert.Equal(2, replies.Count);
        Assert.Contains("This is Maya", replies[0]);
        Assert.Contains("This is Sam", replies[1]);
    }

    [Fact]
    public async Task Workflow_definitions_are_validated()
    {
        await using var app = new AgentryApp();
        var problem = await Http.ProblemAsync(await app.Client.PutAsJsonAsync("/v1/agents/loop", new
        {
            id = "loop", name = "Loop", workflow = new { type = "mesh", agents = new[] { "loop" }, maxRounds = 99 },
        }), 400, Agentry.Api.ProblemTypes.ValidationFailed);
        Assert.Superset(new HashSet<string> { "workflow.type", "workflow.agents[0]", "workflow.maxRounds" }, problem["errors"]!.AsObject().Select(e => e.Key).ToHashSet());
    }
}
