using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace Agentry.Tests.Tools;

/// <summary>
/// A tool's policy reads the value the tool acts on, refuses before it approves, and counts its totals in the ledger of
/// tool calls, reserved before the tool runs: strings, exponents, parallel turns and agents without rules of their own
/// cannot walk around a cap.
/// </summary>
public sealed class ToolLedgerTests
{
    static async Task CreateCashierAsync(AgentryApp app, string model = "offline") =>
        await Http.ExpectAsync(await app.Client.PutAsJsonAsync("/v1/agents/cashier", new { name = "Cashier", model, tools = new[] { "refund" } }), HttpStatusCode.Created);

    static async Task<JsonObject> ChatAsync(AgentryApp app, object body)
    {
        var response = await app.Client.PostAsJsonAsync("/v1/chat", body);
        await Http.ExpectAsync(response, HttpStatusCode.OK);
        return await Http.JsonAsync(response);
    }

    static JsonNode Tool(JsonObject turn) => turn["messages"]!.AsArray().Single(m => (string?)m!["role"] == "tool")!;

    static async Task<List<(string Tool, string Outcome, decimal? Amount, string Arguments)>> LedgerAsync(AgentryApp app)
    {
        await using var connection = TestDatabase.Connect(app.DataDirectory, readOnly: true);
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT tool, outcome, amount, arguments FROM tool_calls ORDER BY created_at, id";
        await using var reader = await command.ExecuteReaderAsync();
        var rows = new List<(string, string, decimal?, string)>();
        while (await reader.ReadAsync())
            rows.Add((reader.GetString(0), reader.GetString(1),
                reader.IsDBNull(2) ? null : decimal.Parse(Convert.ToString(reader.GetValue(2), System.Globalization.CultureInfo.InvariantCulture)!, System.Globalization.CultureInfo.InvariantCulture),
                reader.GetString(3)));
        return rows;
    }

    [Theory]
    [InlineData("\"1e6\"", "denied")]          // the binder reads 1,000,000: above the per-call maximum of 10,000
    [InlineData("1e6", "denied")]
    [InlineData("\"1e3\"", "pending-approval")] // 1,000: above the approval threshold of 100
    [InlineData("\"lots\"", "denied")]         // no number at all: refused, never "no amount"
    [InlineData("null", "denied")]
    [InlineData("true", "denied")]
    public async Task An_amount_the_policy_cannot_read_as_the_tool_does_is_refused_or_held_never_run(string amount, string expected)
    {
        await using var app = new AgentryApp();
        await CreateCashierAsync(app); // an agent with no rules of its own: only the tool's policy guards the refund
        var turn = await ChatAsync(app, new { message = $"/tool refund {{\"amount\": {amount}, \"reason\": \"test\"}}", agentId = "cashier" });
        Assert.Equal(expected, (string?)Tool(turn)["metadata"]!["outcome"]);
        var ledger = await LedgerAsync(app);
        Assert.DoesNotContain(ledger, r => r.Outcome == "success");
    }

    [Fact]
    public async Task A_string_amount_is_limited_and_recorded_as_the_number_the_tool_refunded()
    {
        await using var app = new AgentryApp();
        await CreateCashierAsync(app);
        var turn = await ChatAsync(app, new { message = "/tool refund {\"amount\": \"1e2\", \"reason\": \"late\"}", agentId = "cashier" });
        var tool = Tool(turn);
        Assert.Equal("success", (string?)tool["metadata"]!["outcome"]);
        Assert.Contains("for 100 filed", (string?)tool["content"]); // the tool received the number 100
        Assert.Equal(100m, (decimal)tool["metadata"]!["arguments"]!["amount"]!);

        // It counts 100 towards the conversation's total of 200: a second "1e2" fits, a third waits for a human.
        var conversation = (string)turn["conversationId"]!;
        Assert.Equal("success", (string?)Tool(await app.SendAsync(conversation, "/tool refund {\"amount\": \"100.00\", \"reason\": \"broken\"}"))["metadata"]!["outcome"]);
        Assert.Equal("pending_approval", (string?)(await app.SendAsync(conversation, "/tool refund {\"amount\": \"1E1\", \"reason\": \"again\"}"))["status"]);

        var ledger = await LedgerAsync(app);
        Assert.Equal([("refund", "success", 100m), ("refund", "success", 100m), ("refund", "pending-approval", 10m)],
            ledger.Select(r => (r.Tool, r.Outcome, r.Amount)).ToArray());
        Assert.Equal("{\"amount\":100,\"reason\":\"late\"}", ledger[0].Arguments); // canonical: what the tool received, keys in order
    }

    [Fact]
    public async Task A_refusal_above_the_per_call_maximum_holds_even_where_a_rule_would_hold_the_call_for_approval()
    {
        await using var app = new AgentryApp();
        // billing's own rule holds refunds over 100 for a supervisor; 20,000 is above the policy's maximum of 10,000 per
        // call, and no approval may let that through.
        var turn = await ChatAsync(app, new { message = "/tool refund {\"amount\": 20000, \"reason\": \"everything\"}", agentId = "billing" });
        Assert.Equal("completed", (string?)turn["status"]);
        Assert.Null(turn["pendingApprovalId"]);
        var tool = Tool(turn);
        Assert.Equal("denied", (string?)tool["metadata"]!["outcome"]);
        Assert.Contains("above the limit of 10000 per call", (string?)tool["content"]);
        Assert.Empty((await Http.JsonAsync(await app.Client.GetAsync("/v1/admin/approvals")))["data"]!.AsArray());
    }

    [Fact]
    public async Task Parallel_turns_in_different_conversations_cannot_each_pass_a_daily_cap()
    {
        await using var openAi = new FakeOpenAiServer();
        await using var app = new AgentryApp(openAi, new()
        {
            ["Tools:Policies:0:Tool"] = "refund", ["Tools:Policies:0:AmountArgument"] = "amount", ["Tools:Policies:0:ApprovalAbove"] = "100",
            ["Tools:Policies:0:MaxTotalPerUserPerDay"] = "150",
        });
        await CreateCashierAsync(app, "openai/gpt-4o");
        // Six turns for one user, each in a new conversation; every model answer is held back until all six are waiting,
        // so all six ask for their refund of 100 at the same moment.
        var release = new TaskCompletionSource();
        const int turns = 6;
        for (var i = 0; i < turns; i++) openAi.Enqueue(new FakeReply { ToolCalls = [("refund", $"{{\"amount\": 100, \"reason\": \"order {i}\"}}")], Gate = release.Task });
        var running = Enumerable.Range(0, turns).Select(_ => ChatAsync(app, new { message = "refund my order", agentId = "cashier", userId = "alice" })).ToList();
        await Wait.UntilAsync(() => openAi.Requests.Count == turns, because: "every turn is waiting for its model");
        release.SetResult();
        var results = await Task.WhenAll(running);

        Assert.Equal(1, results.Count(r => (string?)r["status"] == "completed"));
        Assert.Equal(turns - 1, results.Count(r => (string?)r["status"] == "pending_approval"));
        Assert.Single(await LedgerAsync(app), r => r.Outcome == "success");
    }

    [Fact]
    public async Task A_keys_daily_total_counts_across_its_users_and_conversations()
    {
        await using var app = new AgentryApp(settings: new()
        {
            ["Tools:Policies:0:Tool"] = "refund", ["Tools:Policies:0:AmountArgument"] = "amount", ["Tools:Policies:0:MaxTotalPerKeyPerDay"] = "250",
        });
        var (_, secret) = await app.CreateKeyAsync("widget", ["chat"]);
        var widget = app.CreateApiClient(secret);
        async Task<string?> RefundAsync(HttpClient client, string user) =>
            (string?)(await Http.JsonAsync(await client.PostAsJsonAsync("/v1/chat",
                new { message = "/tool refund {\"amount\": 100, \"reason\": \"x\"}", agentId = "billing", userId = user })))["status"];
        Assert.Equal("completed", await RefundAsync(widget, "alice"));
        Assert.Equal("completed", await RefundAsync(widget, "bob"));
        Assert.Equal("pending_approval", await RefundAsync(widget, "carol")); // 300 for this key today, above 250
        Assert.Equal("completed", await RefundAsync(app.Client, "dave"));   // another key has its own total
    }

    [Fact]
    public async Task Deleting_a_conversation_does_not_give_back_what_it_refunded()
    {
        await using var app = new AgentryApp(settings: new()
        {
            ["Tools:Policies:0:Tool"] = "refund", ["Tools:Policies:0:AmountArgument"] = "amount", ["Tools:Policies:0:MaxTotalPerUserPerDay"] = "150",
        });
        var first = await ChatAsync(app, new { message = "/tool refund {\"amount\": 100, \"reason\": \"x\"}", agentId = "billing", userId = "alice" });
        await Http.ExpectAsync(await app.Client.DeleteAsync($"/v1/conversations/{first["conversationId"]}"), HttpStatusCode.NoContent);
        var second = await ChatAsync(app, new { message = "/tool refund {\"amount\": 100, \"reason\": \"y\"}", agentId = "billing", userId = "alice" });
        Assert.Equal("pending_approval", (string?)second["status"]);
    }

    [Fact]
    public async Task An_approved_call_is_recorded_in_the_ledger_and_counts_towards_later_totals()
    {
        await using var app = new AgentryApp();
        var held = await ChatAsync(app, new { message = "/tool refund {\"amount\": 150, \"reason\": \"double charge\"}", agentId = "billing", userId = "erin" });
        var resumed = await Http.JsonAsync(await app.Client.PostAsJsonAsync($"/v1/admin/approvals/{held["pendingApprovalId"]}/approve", new { }));
        Assert.Equal("success", (string?)resumed["messages"]![0]!["metadata"]!["outcome"]);
        var ledger = await LedgerAsync(app);
        Assert.Equal([("refund", "pending-approval", 150m), ("refund", "success", 150m)], ledger.Select(r => (r.Tool, r.Outcome, r.Amount)).ToArray());
        // 150 refunded in this conversation: 60 more would pass its total of 200.
        var conversation = (string)held["conversationId"]!;
        Assert.Equal("pending_approval", (string?)(await app.SendAsync(conversation, "/tool refund {\"amount\": 60, \"reason\": \"more\"}"))["status"]);
    }
}
