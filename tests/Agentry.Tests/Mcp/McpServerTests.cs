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
        Assert.Contains("message: Required.", Text(missing));
        // The same request checks as POST /v1/chat: the 32,000-character cap, the userId length, no NUL.
        var tooLong = await client.CallToolAsync("ask_concierge", new Dictionary<string, object?> { ["message"] = new string('x', 32_001) });
        Assert.True(tooLong.IsError);
        Assert.Contains("message: Must be at most 32000 characters", Text(tooLong));
        var badUser = await client.CallToolAsync("ask_concierge", new Dictionary<string, object?> { ["message"] = "hi", ["userId"] = new string('u', 129) });
        Assert.Contains("userId: Must be at most 128 characters", Text(badUser));
        var nul = await client.CallToolAsync("ask_concierge", new Dictionary<string, object?> { ["message"] = "a\0b" });
        Assert.True(nul.IsError);
        Assert.Contains("NUL", Text(nul));
        var unknown = await client.CallToolAsync("ask_nobody", new Dictionary<string, object?> { ["message"] = "hi" });
        Assert.True(unknown.IsError);
        Assert.Contains("nobody", Text(unknown));
        var elsewhere = await client.CallToolAsync("ask_concierge", new Dictionary<string, object?> { ["message"] = "hi", ["conversationId"] = "conv_doesnotexist" });
        Assert.True(elsewhere.IsError);
    }

    [Fact]
    public async Task A_client_that_asks_for_progress_gets_the_reply_as_it_is_written()
    {
        // On the wire, not through the SDK client: that client hands notifications to its handlers asynchronously and
        // drops those it handles after the result, so what it reports depends on timing. The stream itself must carry
        // every piece, numbered, before the result.
        await using var app = new AgentryApp();
        using var http = new HttpClient { BaseAddress = app.Client.BaseAddress };
        using var request = new HttpRequestMessage(HttpMethod.Post, "/mcp")
        {
            Content = JsonContent.Create(new
            {
                jsonrpc = "2.0", id = 7, method = "tools/call",
                @params = new { name = "ask_support", arguments = new { message = "Tell me about my invoice" }, _meta = new { progressToken = "reply-1" } },
            }),
        };
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", AgentryApp.AdminKey);
        request.Headers.Accept.ParseAdd("application/json");
        request.Headers.Accept.ParseAdd("text/event-stream");
        using var response = await http.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var messages = (await response.Content.ReadAsStringAsync()).Split('\n')
            .Where(l => l.StartsWith("data:", StringComparison.Ordinal)).Select(l => JsonNode.Parse(l[5..])!).ToList();

        var progress = messages.TakeWhile(m => m["id"] is null).Where(m => (string?)m["method"] == "notifications/progress").Select(m => m["params"]!).ToList();
        var result = messages.Single(m => m["id"] is not null && (int)m["id"]! == 7)["result"]!;
        var reply = (string)result["structuredContent"]!["reply"]!;
        Assert.NotEmpty(progress);
        Assert.All(progress, p => Assert.Equal("reply-1", (string?)p["progressToken"]));
        Assert.Equal(Enumerable.Range(1, progress.Count).Select(n => (double)n), progress.Select(p => (double)p["progress"]!));
        Assert.Equal(reply, string.Concat(progress.Select(p => (string)p["message"]!)));
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
