using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace Agentry.Tests.Mcp;

/// <summary>
/// Agents using tools of a real third-party MCP server (npm <c>@modelcontextprotocol/server-everything</c>), added
/// through the API or in settings, over stdio and Streamable HTTP, driven by the offline model's <c>/tool</c>
/// directive and by an OpenAI-compatible model's tool calls; and what happens when the server dies or hangs.
/// </summary>
public sealed class McpClientTests
{
    /// <summary>These tests add stdio servers through the API, which an operator must allow (Mcp:AllowStdioFromApi).</summary>
    const string AllowStdio = "Mcp:AllowStdioFromApi";

    static async Task<object> StdioServer(string name = "everything", Dictionary<string, string>? env = null) => new
    {
        name, transport = "stdio", command = "node", args = new[] { await EverythingServer.ScriptAsync(), "stdio" }, env,
    };

    static async Task<JsonObject> WaitConnectedAsync(AgentryApp app, string name, int reconnects = 0)
    {
        JsonObject? server = null;
        await Wait.UntilAsync(async () =>
        {
            server = await Http.JsonAsync(await app.Client.GetAsync($"/v1/mcp/servers/{name}"));
            return server["status"]?.GetValueKind() == System.Text.Json.JsonValueKind.String && (string?)server["status"] == "connected"
                && (int)server["reconnects"]! >= reconnects;
        }, TimeSpan.FromSeconds(60), $"MCP server {name} connected");
        return server!;
    }

    static async Task<JsonObject> ChatAsync(AgentryApp app, string agentId, string message, string? conversationId = null) =>
        await Http.JsonAsync(await app.Client.PostAsJsonAsync("/v1/chat", new { message, agentId, conversationId }));

    static string Reply(JsonObject turn) => (string)turn["messages"]!.AsArray().Last(m => (string?)m!["role"] == "assistant")!["content"]!;

    [Fact]
    public async Task A_server_added_with_one_call_lends_its_tools_to_an_agent_at_once_and_survives_a_restart()
    {
        var folder = Directory.CreateTempSubdirectory("agentry-mcp-").FullName;
        await using var app = new AgentryApp(settings: new() { ["Data:Directory"] = folder, [AllowStdio] = "true" });
        var added = await app.Client.PostAsJsonAsync("/v1/mcp/servers", await StdioServer(env: new() { ["EVERYTHING_MARKER"] = "s3cret-value" }));
        Assert.Equal(HttpStatusCode.Created, added.StatusCode);
        Assert.Equal("/v1/mcp/servers/everything", added.Headers.Location?.OriginalString);

        var server = await WaitConnectedAsync(app, "everything");
        var tools = server["tools"]!.AsArray();
        Assert.Contains(tools, t => (string?)t!["name"] == "mcp:everything/echo" && (string?)t["functionName"] == "everything__echo");
        Assert.Contains(tools, t => (string?)t!["name"] == "mcp:everything/get-sum" && (string?)t["functionName"] == "everything__get-sum");
        Assert.Equal(["EVERYTHING_MARKER"], server["envNames"]!.AsArray().Select(n => (string)n!).ToArray());
        Assert.DoesNotContain("s3cret-value", server.ToJsonString()); // secrets are never returned…
        var stored = (string)(await TestDatabase.ScalarAsync(folder, "SELECT secrets FROM mcp_servers WHERE name = 'everything'"))!;
        Assert.DoesNotContain("s3cret-value", stored); // …nor stored in the clear

        await Http.ExpectAsync(await app.Client.PutAsJsonAsync("/v1/agents/helper", new { id = "helper", name = "Helper", tools = new[] { "mcp:everything/*" } }),
            HttpStatusCode.Created);
        var echo = await ChatAsync(app, "helper", "/tool mcp:everything/echo {\"message\":\"hello from agentry\"}");
        Assert.Contains("Echo: hello from agentry", Reply(echo));
        var toolMessage = echo["messages"]!.AsArray().Single(m => (string?)m!["role"] == "tool")!;
        Assert.Equal("success", (string?)toolMessage["metadata"]!["outcome"]);
        Assert.Equal("mcp:everything/echo", (string?)toolMessage["metadata"]!["toolName"]);
        Assert.Contains("The sum of 2 and 3 is 5", Reply(await ChatAsync(app, "helper", "/tool everything__get-sum {\"a\":2,\"b\":3}")));

        // The variable set for the server reaches its process; Agentry's own environment does not.
        Environment.SetEnvironmentVariable("AGENTRY_TEST_MUST_NOT_LEAK", "leaked");
        var environment = Reply(await ChatAsync(app, "helper", "/tool mcp:everything/get-env"));
        Assert.Contains("s3cret-value", environment);
        Assert.DoesNotContain("AGENTRY_TEST_MUST_NOT_LEAK", environment);

        // Listed as a tool with the agents that may use it; a second server of the same name is refused.
        var listed = JsonNode.Parse(await app.Client.GetStringAsync("/v1/tools"))!.AsArray().Single(t => (string?)t!["name"] == "mcp:everything/echo")!;
        Assert.Equal(["helper"], listed["agents"]!.AsArray().Select(a => (string)a!).ToArray());
        await Http.ProblemAsync(await app.Client.PostAsJsonAsync("/v1/mcp/servers", await StdioServer()), 409, "urn:agentry:problem:mcp-server-exists");

        // A restart on the same data: the server is back, with its secret, without being added again.
        await app.DisposeAsync();
        await using var restarted = new AgentryApp(settings: new() { ["Data:Directory"] = folder, [AllowStdio] = "true" });
        await WaitConnectedAsync(restarted, "everything");
        Assert.Contains("s3cret-value", Reply(await ChatAsync(restarted, "helper", "/tool mcp:everything/get-env")));

        await Http.ExpectAsync(await restarted.Client.DeleteAsync("/v1/mcp/servers/everything"), HttpStatusCode.NoContent);
        await Http.ProblemAsync(await restarted.Client.GetAsync("/v1/mcp/servers/everything"), 404, "urn:agentry:problem:mcp-server-not-found");
        Assert.Contains("no tool named", Reply(await ChatAsync(restarted, "helper", "/tool mcp:everything/echo {\"message\":\"x\"}")));
        // Both events are stored with their change; the writer appends them to the chain moments later.
        await Wait.UntilAsync(async () =>
        {
            var audit = await restarted.Client.GetStringAsync("/v1/admin/audit?limit=100");
            return audit.Contains("mcp.server.added", StringComparison.Ordinal) && audit.Contains("mcp.server.removed", StringComparison.Ordinal);
        }, TimeSpan.FromSeconds(30), "the added and removed events in the audit chain");
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try { Directory.Delete(folder, recursive: true); } catch (IOException) { }
    }

    [Fact]
    public async Task A_model_calls_mcp_tools_by_their_function_names_and_gets_the_results()
    {
        await using var openAi = new FakeOpenAiServer();
        await using var app = new AgentryApp(openAi, new() { [AllowStdio] = "true" });
        await Http.ExpectAsync(await app.Client.PostAsJsonAsync("/v1/mcp/servers", await StdioServer()), HttpStatusCode.Created);
        await WaitConnectedAsync(app, "everything");
        await Http.ExpectAsync(await app.Client.PutAsJsonAsync("/v1/agents/adder",
            new { id = "adder", name = "Adder", tools = new[] { "mcp:everything/get-sum", "calculator" } }), HttpStatusCode.Created);

        openAi.Enqueue(FakeReply.CallTool("everything__get-sum", "{\"a\":40,\"b\":2}"), FakeReply.Say("It is 42."));
        var turn = await ChatAsync(app, "adder", "what is 40 + 2?");
        Assert.Equal("It is 42.", Reply(turn));

        var offered = openAi.Requests[0].Body["tools"]!.AsArray().Select(t => (string)t!["function"]!["name"]!).ToList();
        Assert.Contains("everything__get-sum", offered);
        // The server's words reach the model as data, not as instructions: its description and its parameters' descriptions are fenced.
        var getSum = openAi.Requests[0].Body["tools"]!.AsArray().Single(t => (string?)t!["function"]!["name"] == "everything__get-sum")!["function"]!;
        Assert.Matches(Fence.Open("mcp server everything"), (string)getSum["description"]!);
        Assert.Matches(Fence.Open("mcp server everything"), (string)getSum["parameters"]!["properties"]!["a"]!["description"]!);
        Assert.DoesNotContain("everything__echo", offered); // only the tool the agent names
        Assert.Contains("The sum of 40 and 2 is 42", openAi.Requests[1].Body.ToJsonString());
    }

    [Fact]
    public async Task Rules_and_approvals_apply_to_mcp_tools_by_their_agentry_names()
    {
        await using var app = new AgentryApp(settings: new() { [AllowStdio] = "true" });
        await Http.ExpectAsync(await app.Client.PostAsJsonAsync("/v1/mcp/servers", await StdioServer()), HttpStatusCode.Created);
        await WaitConnectedAsync(app, "everything");
        await Http.ExpectAsync(await app.Client.PutAsJsonAsync("/v1/agents/guarded", new
        {
            id = "guarded", name = "Guarded", tools = new[] { "mcp:everything/*" },
            rules = new object[]
            {
                new { id = "no-echo", description = "Echo is off limits.", stage = "tool", when = new { tool = "mcp:everything/echo" }, action = "deny" },
                new { id = "sums-need-a-person", description = "Sums are approved by a person.", stage = "tool", when = new { tool = "mcp:everything/get-sum" }, action = "require-approval" },
            },
        }), HttpStatusCode.Created);

        var denied = await ChatAsync(app, "guarded", "/tool mcp:everything/echo {\"message\":\"hi\"}");
        var deniedTool = denied["messages"]!.AsArray().Single(m => (string?)m!["role"] == "tool")!;
        Assert.Equal("denied", (string?)deniedTool["metadata"]!["outcome"]);

        var held = await ChatAsync(app, "guarded", "/tool everything__get-sum {\"a\":1,\"b\":1}");
        Assert.Equal("pending_approval", (string?)held["status"]);
        var approvalId = (string)held["pendingApprovalId"]!;
        var approval = await Http.JsonAsync(await app.Client.GetAsync($"/v1/admin/approvals/{approvalId}"));
        Assert.True((string?)approval["toolName"] == "mcp:everything/get-sum", approval.ToJsonString());
        var resumed = await Http.JsonAsync(await app.Client.PostAsJsonAsync($"/v1/admin/approvals/{approvalId}/approve", new { }));
        Assert.True(resumed.ToJsonString().Contains("The sum of 1 and 1 is 2", StringComparison.Ordinal), resumed.ToJsonString());
    }

    [Fact]
    public async Task A_killed_server_shows_its_status_is_restarted_and_meanwhile_the_model_gets_a_clean_tool_error()
    {
        await using var app = new AgentryApp(settings: new()
        {
            ["Mcp:ReconnectDelay"] = "00:00:04", // a window in which the server is known to be down
            ["Tools:Timeout"] = "00:00:02",
            [AllowStdio] = "true",
        });
        await Http.ExpectAsync(await app.Client.PostAsJsonAsync("/v1/mcp/servers", await StdioServer()), HttpStatusCode.Created);
        await WaitConnectedAsync(app, "everything");
        await Http.ExpectAsync(await app.Client.PutAsJsonAsync("/v1/agents/helper", new { id = "helper", name = "Helper", tools = new[] { "mcp:everything/*" } }),
            HttpStatusCode.Created);
        var conversation = (string)(await ChatAsync(app, "helper", "/tool mcp:everything/echo {\"message\":\"before\"}"))["conversationId"]!;

        // A hung call times out with the tool timeout and the turn goes on.
        var slow = await ChatAsync(app, "helper", "/tool mcp:everything/trigger-long-running-operation {\"duration\":30,\"steps\":3}", conversation);
        Assert.Equal("timeout", (string?)slow["messages"]!.AsArray().Single(m => (string?)m!["role"] == "tool")!["metadata"]!["outcome"]);

        foreach (var pid in EverythingServer.StdioChildren()) System.Diagnostics.Process.GetProcessById(pid).Kill();
        JsonObject down = new();
        await Wait.UntilAsync(async () =>
        {
            down = await Http.JsonAsync(await app.Client.GetAsync("/v1/mcp/servers/everything"));
            return (string?)down["status"] != "connected";
        }, TimeSpan.FromSeconds(10), "the server's death is noticed");
        Assert.Equal("reconnecting", (string?)down["status"]);
        Assert.False(string.IsNullOrEmpty((string?)down["error"]));
        Assert.NotNull(down["nextAttemptAt"]);
        var ready = await Http.JsonAsync(await app.Client.GetAsync("/health/ready"));
        Assert.Equal("Degraded", (string?)ready["status"]);

        var meanwhile = await ChatAsync(app, "helper", "/tool mcp:everything/echo {\"message\":\"during\"}", conversation);
        var failed = meanwhile["messages"]!.AsArray().Single(m => (string?)m!["role"] == "tool")!;
        Assert.Equal("error", (string?)failed["metadata"]!["outcome"]);
        Assert.Contains("not connected", (string?)failed["content"]);
        Assert.DoesNotContain("exit", (string?)failed["content"]); // how it died is for admins (GET /v1/mcp/servers), not for chat users
        Assert.DoesNotContain("stderr", (string?)failed["content"]);
        Assert.Contains("Hi", Reply(await ChatAsync(app, "support", "Hi"))); // unrelated turns are unaffected

        await WaitConnectedAsync(app, "everything", reconnects: 1);
        Assert.Contains("Echo: after", Reply(await ChatAsync(app, "helper", "/tool mcp:everything/echo {\"message\":\"after\"}", conversation)));
    }

    [Fact]
    public async Task A_server_in_settings_over_streamable_http_is_connected_at_start_and_cannot_be_deleted_through_the_api()
    {
        await using var remote = await EverythingServer.StartHttpAsync();
        await using var app = new AgentryApp(settings: new()
        {
            ["Mcp:Servers:remote:Transport"] = "http",
            ["Mcp:Servers:remote:Url"] = remote.BaseUrl + "/mcp",
            ["Mcp:Servers:remote:Headers:Authorization"] = "Bearer not-checked-by-this-server",
            ["Mcp:Servers:broken:Command"] = "node",
            ["Mcp:Servers:broken:Args:0"] = "/nonexistent/server.js",
            ["Agents:Directory"] = null,
        });
        var server = await WaitConnectedAsync(app, "remote");
        Assert.Equal("settings", (string?)server["source"]);
        Assert.Equal(["Authorization"], server["headerNames"]!.AsArray().Select(n => (string)n!).ToArray());
        await Http.ExpectAsync(await app.Client.PutAsJsonAsync("/v1/agents/remote-user", new { id = "remote-user", name = "R", tools = new[] { "mcp:remote/get-sum" } }),
            HttpStatusCode.Created);
        Assert.Contains("The sum of 1 and 2 is 3", Reply(await ChatAsync(app, "remote-user", "/tool mcp:remote/get-sum {\"a\":1,\"b\":2}")));

        var broken = await Http.JsonAsync(await app.Client.GetAsync("/v1/mcp/servers/broken"));
        await Wait.UntilAsync(async () => (string?)(broken = await Http.JsonAsync(await app.Client.GetAsync("/v1/mcp/servers/broken")))["status"] == "failed",
            TimeSpan.FromSeconds(30), "the broken server is reported");
        Assert.Contains("nonexistent", (string?)broken["error"]);

        await Http.ProblemAsync(await app.Client.DeleteAsync("/v1/mcp/servers/remote"), 409, "urn:agentry:problem:mcp-server-in-settings");
    }

    [Fact]
    public async Task A_policy_in_settings_limits_an_mcp_tool_by_its_agentry_name()
    {
        // The list form names the tool as an operator writes it; the keyed form could not (configuration splits keys at ':').
        await using var app = new AgentryApp(settings: new()
        {
            ["Mcp:Servers:everything:Command"] = "node", ["Mcp:Servers:everything:Args:0"] = await EverythingServer.ScriptAsync(), ["Mcp:Servers:everything:Args:1"] = "stdio",
            ["Tools:Policies:0:Tool"] = "mcp:everything/get-sum", ["Tools:Policies:0:AmountArgument"] = "a", ["Tools:Policies:0:MaxPerCall"] = "10",
        });
        await WaitConnectedAsync(app, "everything");
        await Http.ExpectAsync(await app.Client.PutAsJsonAsync("/v1/agents/adder", new { name = "Adder", tools = new[] { "mcp:everything/get-sum" } }), HttpStatusCode.Created);
        static JsonNode Tool(JsonObject turn) => turn["messages"]!.AsArray().Single(m => (string?)m!["role"] == "tool")!;

        var refused = Tool(await ChatAsync(app, "adder", "/tool everything__get-sum {\"a\": 50, \"b\": 1}"));
        Assert.Equal("denied", (string?)refused["metadata"]!["outcome"]);
        Assert.Contains("above the limit of 10 per call", (string?)refused["content"]);
        var allowed = Tool(await ChatAsync(app, "adder", "/tool mcp:everything/get-sum {\"a\": \"5\", \"b\": 1}"));
        Assert.Equal("success", (string?)allowed["metadata"]!["outcome"]);
        Assert.Contains("The sum of 5 and 1 is 6", (string?)allowed["content"]); // the server received the number the policy read
    }

    [Fact]
    public async Task Bad_server_definitions_and_unknown_servers_get_clear_errors()
    {
        await using var app = new AgentryApp();
        var problem = await Http.ProblemAsync(await app.Client.PostAsJsonAsync("/v1/mcp/servers", new { name = "Bad Name!", transport = "ftp" }), 400,
            "urn:agentry:problem:validation-failed");
        Assert.NotNull(problem["errors"]!["name"]);
        Assert.NotNull(problem["errors"]!["transport"]);
        problem = await Http.ProblemAsync(await app.Client.PostAsJsonAsync("/v1/mcp/servers", new { name = "web", transport = "http", url = "ftp://x" }), 400,
            "urn:agentry:problem:validation-failed");
        Assert.NotNull(problem["errors"]!["url"]);
        await Http.ProblemAsync(await app.Client.PostAsJsonAsync("/v1/mcp/servers", new { name = "local", transport = "stdio" }), 400,
            "urn:agentry:problem:validation-failed");
        await Http.ProblemAsync(await app.Client.DeleteAsync("/v1/mcp/servers/nothing"), 404, "urn:agentry:problem:mcp-server-not-found");

        problem = await Http.ProblemAsync(await app.Client.PutAsJsonAsync("/v1/agents/x", new { id = "x", name = "X", tools = new[] { "mcp:nothing/*" } }), 400,
            "urn:agentry:problem:validation-failed");
        Assert.Contains("no MCP server named 'nothing'", (string?)problem["errors"]!["tools[0]"]![0]);

        var reader = await app.CreateKeyAsync("reader", ["read"]);
        await Http.ProblemAsync(await app.CreateApiClient(reader.Secret).GetAsync("/v1/mcp/servers"), 403, "urn:agentry:problem:forbidden");
        var list = JsonNode.Parse(await app.Client.GetStringAsync("/v1/mcp/servers?limit=10"))!;
        Assert.Empty(list["data"]!.AsArray());
        Assert.Null(list["nextCursor"]);
    }
}
