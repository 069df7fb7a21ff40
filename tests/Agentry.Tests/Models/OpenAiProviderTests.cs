using System.Net;
using System.Net.Http.Json;
using Agentry.Api;

namespace Agentry.Tests.Models;

/// <summary>The real OpenAI SDK path against a fake OpenAI-compatible server on loopback.</summary>
public sealed class OpenAiProviderTests
{
    [Fact]
    public async Task Answers_come_from_the_configured_endpoint_with_the_system_prompt_and_history()
    {
        await using var openAi = new FakeOpenAiServer();
        await using var app = new AgentryApp(openAi);
        var id = (string)(await app.CreateConversationAsync("billing"))["id"]!;
        openAi.Enqueue(FakeReply.Say("I can see the duplicate charge."), FakeReply.Say("Refund issued."));

        var first = await app.SendAsync(id, "I was charged twice");
        Assert.Equal("openai/gpt-4o", (string?)first["model"]);
        var reply = first["messages"]![1]!;
        Assert.Equal("I can see the duplicate charge.", (string?)reply["content"]);
        Assert.Equal(11, (int)reply["usage"]!["inputTokens"]!);
        Assert.Equal(7, (int)reply["usage"]!["outputTokens"]!);

        await app.SendAsync(id, "Please refund it");
        var request = openAi.Requests[^1];
        Assert.Equal("gpt-4o", (string?)request.Body["model"]);
        Assert.Equal("Bearer sk-test", request.Headers.Authorization.ToString());
        var roles = request.Messages.Select(m => (string)m!["role"]!).ToArray();
        Assert.Equal(["system", "user", "assistant", "user"], roles);
        Assert.StartsWith("You are Ben, the billing specialist at Northwind.", FakeRequest.Text(request.Messages[0]));
        Assert.Equal(0.1, (double)request.Body["temperature"]!, 3);
        Assert.Equal(600, (int?)(request.Body["max_completion_tokens"] ?? request.Body["max_tokens"]));
    }

    [Fact]
    public async Task History_sent_to_the_model_is_capped_at_the_configured_limit()
    {
        await using var openAi = new FakeOpenAiServer();
        await using var app = new AgentryApp(openAi, new() { ["Conversations:HistoryLimit"] = "4" });
        var id = (string)(await app.CreateConversationAsync())["id"]!;
        for (var i = 0; i < 5; i++) await app.SendAsync(id, $"turn {i}");
        var last = openAi.Requests[^1].Messages;
        Assert.Equal(1 + 4 + 1, last.Count); // system + the 4 newest + the new user message
        Assert.Equal("turn 2", FakeRequest.Text(last[1]));
    }

    [Fact]
    public async Task Tool_call_from_the_provider_runs_the_tool_and_feeds_the_result_back()
    {
        await using var openAi = new FakeOpenAiServer();
        await using var app = new AgentryApp(openAi);
        var id = (string)(await app.CreateConversationAsync("sales"))["id"]!;
        openAi.Enqueue(FakeReply.CallTool("calculator", "{\"expression\":\"12*25\"}"), FakeReply.Say("12 users on Team cost 300 USD per month."));

        var turn = await app.SendAsync(id, "How much is Team for 12 users?");
        var messages = turn["messages"]!.AsArray();
        Assert.Equal(["user", "tool", "assistant"], messages.Select(m => (string)m!["role"]!).ToArray());
        Assert.Equal("300", (string?)messages[1]!["content"]);
        Assert.Equal("calculator", (string?)messages[1]!["metadata"]!["toolName"]);
        Assert.Equal("12 users on Team cost 300 USD per month.", (string?)messages[2]!["content"]);

        var second = openAi.Requests[1].Messages;
        var toolResult = second.Single(m => (string?)m!["role"] == "tool")!;
        Assert.Contains("300", FakeRequest.Text(toolResult)); // Microsoft.Extensions.AI sends results JSON-encoded
        Assert.Contains(openAi.Requests[0].Body["tools"]!.AsArray(), t => (string?)t!["function"]!["name"] == "calculator");
    }

    [Fact]
    public async Task Server_errors_are_retried_then_reported_as_502()
    {
        await using var openAi = new FakeOpenAiServer();
        await using var app = new AgentryApp(openAi, new() { ["Models:Resilience:MaxRetries"] = "2" });
        var id = (string)(await app.CreateConversationAsync())["id"]!;

        openAi.Enqueue(FakeReply.Fail(500), FakeReply.Say("recovered"));
        Assert.Equal("recovered", (string?)(await app.SendAsync(id, "first"))["messages"]![1]!["content"]);
        Assert.Equal(2, openAi.Requests.Count);

        openAi.Enqueue(FakeReply.Fail(500), FakeReply.Fail(502), FakeReply.Fail(503));
        var response = await app.Client.PostAsJsonAsync($"/v1/conversations/{id}/messages", new { content = "second" });
        var problem = await Http.ProblemAsync(response, 502, ProblemTypes.UpstreamError);
        Assert.Contains("503", (string?)problem["detail"]);
        Assert.Equal(5, openAi.Requests.Count);
        Assert.Equal(2, (await app.MessagesAsync(id)).Count); // the failed turn stored nothing
    }

    [Fact]
    public async Task Rate_limited_upstream_is_retried_after_the_Retry_After_delay()
    {
        await using var openAi = new FakeOpenAiServer();
        await using var app = new AgentryApp(openAi, new() { ["Models:Resilience:MaxRetries"] = "1" });
        var id = (string)(await app.CreateConversationAsync())["id"]!;
        openAi.Enqueue(FakeReply.Fail(429, retryAfter: "1"), FakeReply.Say("after the wait"));

        var turn = await app.SendAsync(id, "hello");
        Assert.Equal("after the wait", (string?)turn["messages"]![1]!["content"]);
        var gap = openAi.Requests[1].ReceivedAt - openAi.Requests[0].ReceivedAt;
        Assert.True(gap >= TimeSpan.FromMilliseconds(900), $"the retry waited {gap.TotalMilliseconds} ms, less than Retry-After");
    }

    [Fact]
    public async Task Persistent_rate_limiting_is_a_503_with_Retry_After()
    {
        await using var openAi = new FakeOpenAiServer();
        await using var app = new AgentryApp(openAi, new() { ["Models:Resilience:MaxRetries"] = "0" });
        openAi.Enqueue(FakeReply.Fail(429, retryAfter: "7"));
        var response = await app.Client.PostAsJsonAsync("/v1/chat", new { message = "hello" });
        await Http.ProblemAsync(response, 503, ProblemTypes.UpstreamRateLimited);
        Assert.Equal("7", response.Headers.RetryAfter?.Delta?.TotalSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public async Task Slow_upstream_times_out_with_504_instead_of_hanging()
    {
        await using var openAi = new FakeOpenAiServer();
        await using var app = new AgentryApp(openAi, new()
        {
            // Room for a loaded machine (CI runs test classes in parallel): each attempt has a second to reach the fake
            // server, and the second attempt starts well inside the total; with 0.5 s and 2 s a busy run once saw one request.
            ["Models:Resilience:AttemptTimeout"] = "00:00:01", ["Models:Resilience:TotalTimeout"] = "00:00:05", ["Models:Resilience:MaxRetries"] = "1",
        });
        // Neither attempt ever answers: only the timeouts can end the call (without them the client's own timeout fails the test).
        var never = new TaskCompletionSource().Task;
        openAi.Enqueue(new FakeReply { Text = "too late", Gate = never }, new FakeReply { Text = "too late", Gate = never });
        var response = await app.Client.PostAsJsonAsync("/v1/chat", new { message = "hello" });
        await Http.ProblemAsync(response, 504, ProblemTypes.UpstreamTimeout);
        Assert.Equal(2, openAi.Requests.Count); // the attempt timeout triggered one retry
    }

    [Fact]
    public async Task Unreachable_upstream_is_a_502()
    {
        string closedPort;
        await using (var gone = new FakeOpenAiServer()) closedPort = gone.BaseUrl; // a loopback port that nobody listens on any more
        await using var app = new AgentryApp(settings: new()
        {
            ["Models:Endpoints:openai:ApiKey"] = "sk-test", ["Models:Endpoints:openai:BaseUrl"] = closedPort, ["Models:Resilience:MaxRetries"] = "0",
        });
        var response = await app.Client.PostAsJsonAsync("/v1/chat", new { message = "hello" });
        await Http.ProblemAsync(response, 502, ProblemTypes.UpstreamUnreachable);
    }

    [Fact]
    public async Task Bad_credentials_upstream_is_a_502_that_names_the_setting()
    {
        await using var openAi = new FakeOpenAiServer();
        await using var app = new AgentryApp(openAi);
        openAi.Enqueue(FakeReply.Fail(401));
        var problem = await Http.ProblemAsync(await app.Client.PostAsJsonAsync("/v1/chat", new { message = "hello" }), 502, ProblemTypes.UpstreamRejected);
        Assert.Contains("OPENAI_API_KEY", (string?)problem["detail"]);
        Assert.Single(openAi.Requests); // a 401 is not retried
    }

    [Fact]
    public async Task Circuit_opens_after_repeated_failures_and_answers_503_without_calling_upstream()
    {
        await using var openAi = new FakeOpenAiServer();
        await using var app = new AgentryApp(openAi, new()
        {
            ["Models:Resilience:MaxRetries"] = "0", ["Models:Resilience:CircuitBreakerMinimumThroughput"] = "2",
            ["Models:Resilience:CircuitBreakerFailureRatio"] = "0.5", ["Models:Resilience:CircuitBreakerBreakDuration"] = "00:01:00",
        });
        for (var i = 0; i < 10; i++) openAi.Enqueue(FakeReply.Fail(500));
        await Http.ProblemAsync(await app.Client.PostAsJsonAsync("/v1/chat", new { message = "1" }), 502, ProblemTypes.UpstreamError);
        await Http.ProblemAsync(await app.Client.PostAsJsonAsync("/v1/chat", new { message = "2" }), 502, ProblemTypes.UpstreamError);
        var calls = openAi.Requests.Count;
        var open = await app.Client.PostAsJsonAsync("/v1/chat", new { message = "3" });
        await Http.ProblemAsync(open, 503, ProblemTypes.UpstreamUnavailable);
        Assert.NotNull(open.Headers.RetryAfter);
        Assert.Equal(calls, openAi.Requests.Count);
    }

    [Fact]
    public async Task Named_endpoints_and_azure_openai_use_their_own_address_and_key_header()
    {
        await using var ollama = new FakeOpenAiServer();
        await using var azure = new FakeOpenAiServer();
        await using var app = new AgentryApp(settings: new()
        {
            ["Models:Endpoints:ollama:BaseUrl"] = ollama.BaseUrl,
            ["Models:Endpoints:ollama:DefaultModel"] = "llama3.1",
            ["Models:Endpoints:azure:Provider"] = "azure-openai",
            ["Models:Endpoints:azure:BaseUrl"] = azure.RootUrl,
            ["Models:Endpoints:azure:ApiKey"] = "azure-key",
        });

        var local = await app.Client.PutAsJsonAsync("/v1/agents/local", new { id = "local", name = "Local", model = "ollama" });
        await Http.ExpectAsync(local, HttpStatusCode.Created);
        var cloud = await app.Client.PutAsJsonAsync("/v1/agents/cloud", new { id = "cloud", name = "Cloud", model = "azure/gpt-4o-deployment" });
        await Http.ExpectAsync(cloud, HttpStatusCode.Created);

        var localTurn = await Http.JsonAsync(await app.Client.PostAsJsonAsync("/v1/chat", new { message = "hi", agentId = "local" }));
        Assert.Equal("ollama/llama3.1", (string?)localTurn["model"]);
        Assert.Equal("llama3.1", (string?)ollama.Requests.Single().Body["model"]);

        var cloudTurn = await Http.JsonAsync(await app.Client.PostAsJsonAsync("/v1/chat", new { message = "hi", agentId = "cloud" }));
        Assert.Equal("azure/gpt-4o-deployment", (string?)cloudTurn["model"]);
        var azureRequest = azure.Requests.Single();
        Assert.Equal("/openai/v1/chat/completions", azureRequest.Path);
        Assert.Equal("azure-key", azureRequest.Headers["api-key"].ToString());

        // The demo agents name no model, so with no openai endpoint they stay offline.
        var offline = await Http.JsonAsync(await app.Client.PostAsJsonAsync("/v1/chat", new { message = "hi" }));
        Assert.Equal("offline", (string?)offline["model"]);
    }
}
