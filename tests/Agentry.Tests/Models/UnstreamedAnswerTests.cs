using System.Net.Http.Json;

namespace Agentry.Tests.Models;

/// <summary>
/// Agentry always asks the provider to stream; some OpenAI-compatible servers and proxies ignore that and send one
/// complete JSON answer. That answer is the answer (text, tool calls, usage); a body that is neither says what arrived.
/// </summary>
public sealed class UnstreamedAnswerTests
{
    [Fact]
    public async Task A_provider_that_ignores_stream_is_answered_in_full_and_one_that_sends_something_else_is_named()
    {
        await using var fake = new FakeOpenAiServer();
        await using var app = new AgentryApp(fake);

        fake.Enqueue(new FakeReply { Text = "A plain JSON answer.", IgnoreStream = true, PromptTokens = 42, CompletionTokens = 5 });
        var turn = await Http.JsonAsync(await app.Client.PostAsJsonAsync("/v1/chat", new { agentId = "sales", message = "hello" }));
        var reply = turn["messages"]!.AsArray().Last(m => (string?)m!["role"] == "assistant")!;
        Assert.Equal("A plain JSON answer.", (string?)reply["content"]);
        Assert.Equal("stop", (string?)reply["finishReason"]);
        Assert.Equal(42, (int)turn["usage"]!["inputTokens"]!); // the provider's own count, as from a stream
        Assert.Equal(5, (int)turn["usage"]!["outputTokens"]!);
        var asked = Assert.Single(fake.Requests, r => r.Path.EndsWith("/chat/completions", StringComparison.Ordinal));
        Assert.True(asked.Stream); // it was asked to stream, and one attempt was enough

        // A tool call sent the same way runs the tool, and the answer after it arrives the same way.
        fake.Enqueue(new FakeReply { ToolCalls = [("calculator", "{\"expression\":\"6*7\"}")], IgnoreStream = true },
            new FakeReply { Text = "It is 42.", IgnoreStream = true });
        var withTool = await Http.JsonAsync(await app.Client.PostAsJsonAsync("/v1/chat", new { agentId = "sales", message = "what is six times seven?" }));
        var messages = withTool["messages"]!.AsArray();
        Assert.Equal("42", (string?)messages.Single(m => (string?)m!["role"] == "tool")!["content"]);
        Assert.Equal("It is 42.", (string?)messages.Last(m => (string?)m!["role"] == "assistant")!["content"]);

        // A 200 that is neither events nor a completion (a proxy's page): the turn fails saying what arrived.
        fake.Enqueue(new FakeReply { Raw = ("<html>upstream proxy says hello</html>", "text/html") });
        var failed = await app.Client.PostAsJsonAsync("/v1/chat", new { agentId = "sales", message = "again" });
        var problem = await Http.ProblemAsync(failed, 502, "urn:agentry:problem:upstream-error");
        Assert.Contains("text/html", (string)problem["detail"]!);
        Assert.Contains("<html>upstream proxy says hello</html>", (string)problem["detail"]!);
    }
}
