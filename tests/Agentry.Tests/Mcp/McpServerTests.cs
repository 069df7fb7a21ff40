using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging.Abstractions;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace Agentry.Tests.Mcp;

/// <summary>Agentry as an MCP server: the official C# SDK client talks to <c>/mcp</c> with an API key.</summary>
public sealed class McpServerTests
{
    static async Task<McpClient> ConnectAsync(AgentryApp app, string? key)
    {
        var http = new HttpClient { BaseAddress = app.Client.BaseAddress, Timeout = TimeSpan.FromSeconds(60) };
        var transport = new HttpClientTransport(new HttpClientTransportOptions
        {
            Endpoint = new Uri(app.Client.BaseAddress!, "/mcp"),
            TransportMode = HttpTransportMode.StreamableHttp,
            AdditionalHeaders = key is null ? null : new Dictionary<string, string> { ["Authorization"] = $"Bearer {key}" },
        }, http, NullLoggerFactory.Instance, ownsHttpClient: true);
        return await McpClient.CreateAsync(transport, new McpClientOptions { ClientInfo = new Implementation { Name = "agentry-tests", Version = "1.0" } });
    }

    static string Text(CallToolResult result) => string.Join("\n", result.Content.OfType<TextContentBlock>().Select(t => t.Text));

    [Fact]
    public async Task An_mcp_client_lists_the_agents_asks_the_concierge_and_continues_the_conversation()
    {
        await using var app = new AgentryApp();
        var chat = await app.CreateKeyAsync("claude-desktop", ["chat"]);
        await using var client = await ConnectAsync(app, chat.Secret);
        Assert.Equal("agentry", client.ServerInfo?.Name);

        var tools = await client.ListToolsAsync();
        Assert.Contains(tools, t => t.Name == "ask_concierge" && t.Description?.Contains("conversationId", StringComparison.Ordinal) == true);
        Assert.Contains(tools, t => t.Name == "list_agents");
        Assert.Equal("object", tools.Single(t => t.Name == "ask_support").JsonSchema.GetProperty("type").GetString());

        var agents = await client.CallToolAsync("list_agents");
        Assert.Contains("\"id\":\"concierge\"", Text(agents));

        var first = await client.CallToolAsync("ask_concierge", new Dictionary<string, object?> { ["message"] = "Hello, who are you?" });
        Assert.NotEqual(true, first.IsError);
        var structured = first.StructuredContent!.Value;
        var conversationId = structured.GetProperty("conversationId").GetString()!;
        Assert.StartsWith("conv_", conversationId);
        Assert.Contains(conversationId, Text(first));
        Assert.False(string.IsNullOrWhiteSpace(structured.GetProperty("reply").GetString()));

        var second = await client.CallToolAsync("ask_concierge", new Dictionary<string, object?> { ["message"] = "And a second question", ["conversationId"] = conversationId });
        Assert.Equal(conversationId, second.StructuredContent!.Value.GetProperty("conversationId").GetString());
        var messages = await app.MessagesAsync(conversationId);
        Assert.Contains(messages, m => (string?)m!["content"] == "Hello, who are you?");
        Assert.Contains(messages, m => (string?)m!["content"] == "And a second question");

        // The conversation belongs to the key that asked, like one started over REST.
        var owned = await Http.JsonAsync(await app.CreateApiClient(chat.Secret).GetAsync($"/v1/conversations/{conversationId}"));
        Assert.Equal(conversationId, (string?)owned["id"]);

        // An agent added through the API is a tool at once (clients re-list; the server is stateless).
        await Http.ExpectAsync(await app.Client.PutAsJsonAsync("/v1/agents/greeter", new { id = "greeter", name = "Greeter", description = "Says hello." }),
            HttpStatusCode.Created);
        Assert.Contains(await client.ListToolsAsync(), t => t.Name == "ask_greeter");

        // Bad input is a tool error the client's model can read, never a protocol failure.
        var missing = await client.CallToolAsync("ask_concierge", new Dictionary<string, object?>());
        Assert.True(missing.IsError);
        Assert.Contains("'message' is required", Text(missing));
        var unknown = await client.CallToolAsync("ask_nobody", new Dictionary<string, object?> { ["message"] = "hi" });
        Assert.True(unknown.IsError);
        Assert.Contains("nobody", Text(unknown));
        var elsewhere = await client.CallToolAsync("ask_concierge", new Dictionary<string, object?> { ["message"] = "hi", ["conversationId"] = "conv_doesnotexist" });
        Assert.True(elsewhere.IsError);
    }

    [Fact]
    public async Task A_client_that_asks_for_progress_gets_the_reply_as_it_is_written()
    {
        await using var app = new AgentryApp();
        await using var client = await ConnectAsync(app, AgentryApp.AdminKey);
        var pieces = new System.Collections.Concurrent.ConcurrentQueue<(float Progress, string Text)>();
        var result = await client.CallToolAsync("ask_support", new Dictionary<string, object?> { ["message"] = "Tell me about my invoice" },
            new Collect(pieces));
        Assert.NotEqual(true, result.IsError);
        var reply = result.StructuredContent!.Value.GetProperty("reply").GetString()!;
        // The client hands notifications to its handlers asynchronously, so late ones can arrive after the result or be
        // dropped once the call is over; what did arrive is the reply's pieces, numbered in the order they were written.
        await Wait.UntilAsync(() => !pieces.IsEmpty, because: "progress arrived while the reply was written");
        Assert.All(pieces, p => Assert.Contains(p.Text, reply));
        Assert.Equal(pieces.Count, pieces.Select(p => p.Progress).Distinct().Count());
        var ordered = pieces.OrderBy(p => p.Progress).ToList();
        Assert.StartsWith(ordered[0].Progress == 1 ? ordered[0].Text : "", reply);
    }

    /// <summary>Records progress messages with their progress numbers.</summary>
    sealed class Collect(System.Collections.Concurrent.ConcurrentQueue<(float Progress, string Text)> pieces) : IProgress<ModelContextProtocol.ProgressNotificationValue>
    {
        public void Report(ModelContextProtocol.ProgressNotificationValue value)
        {
            if (value.Message is { } message) pieces.Enqueue((value.Progress, message));
        }
    }

    [Fact]
    public async Task Without_a_key_or_without_the_chat_scope_the_mcp_endpoint_refuses()
    {
        await using var app = new AgentryApp();
        var noKey = await Assert.ThrowsAnyAsync<Exception>(() => ConnectAsync(app, null));
        Assert.Contains("401", noKey.ToString());

        var reader = await app.CreateKeyAsync("reader", ["read"]);
        var readOnly = await Assert.ThrowsAnyAsync<Exception>(() => ConnectAsync(app, reader.Secret));
        Assert.Contains("403", readOnly.ToString());

        using var raw = app.CreateApiClient(null);
        var response = await raw.PostAsync("/mcp", JsonContent.Create(new { jsonrpc = "2.0", id = 1, method = "tools/list" }));
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }
}
