using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Agentry.Api;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Agentry.Tests.Rules;

public sealed class ApprovalTests
{
    [Fact]
    public async Task The_help_desk_story_routing_redaction_and_a_refund_that_waits_for_approval()
    {
        await using var app = new AgentryApp();
        var (_, widgetSecret) = await app.CreateKeyAsync("widget", ["chat"]);
        var widget = app.CreateApiClient(widgetSecret);

        // 1. The concierge routes a double charge to billing (no model key: offline), and billing redacts the card number.
        var first = await Http.JsonAsync(await widget.PostAsJsonAsync("/v1/chat", new { message = "I was charged twice on card 4111 1111 1111 1111" }));
        var conversation = (string)first["conversationId"]!;
        Assert.Equal("billing", (string?)first["agentId"]);

        // 2. A refund over the limit stops the turn with a pending approval.
        using var stream = await Sse.StartAsync(widget, $"/v1/conversations/{conversation}/messages",
            new { content = "/tool refund {\"amount\": 250, \"reason\": \"double charge\"}" });
        var events = await Sse.ReadAllAsync(stream);
        var pending = events.Single(e => e.Type == "approval.pending").Data!;
        var approvalId = (string)pending["approvalId"]!;
        Assert.Equal("refund", (string?)pending["tool"]);
        Assert.Equal("refund-limit", (string?)pending["rule"]);
        Assert.Contains(events, e => e.Type == "rule" && (string?)e.Data!["action"] == "require-approval");
        var paused = events.Single(e => e.Type == "turn.completed").Data!;
        Assert.Equal("pending_approval", (string?)paused["status"]);
        Assert.Equal(approvalId, (string?)paused["pendingApprovalId"]);
        Assert.Equal(["user", "tool", "assistant"], paused["messages"]!.AsArray().Select(m => (string)m!["role"]!).ToArray());
        Assert.Equal("pending-approval", (string?)paused["messages"]![1]!["metadata"]!["outcome"]);
        // The audit writer chains events after the turn is stored: once the paused turn's own rule decision is in the
        // log, an absent refund means the tool did not run, not that its event is still on the way.
        await Wait.UntilAsync(async () => (await app.AuditEventsAsync("rule.require-approval")).Count == 1, because: "the paused turn's audit events are written");
        Assert.Empty(await app.AuditEventsAsync("refund.requested")); // the tool has not run

        // 3. The conversation waits; the chat key cannot approve.
        await Http.ProblemAsync(await widget.PostAsJsonAsync($"/v1/conversations/{conversation}/messages", new { content = "hello?" }), 409, ProblemTypes.ApprovalPending);
        await Http.ProblemAsync(await widget.PostAsJsonAsync($"/v1/admin/approvals/{approvalId}/approve", new { }), 403, ProblemTypes.Forbidden);
        var queue = await Http.JsonAsync(await app.Client.GetAsync("/v1/admin/approvals?status=pending"));
        Assert.Equal(approvalId, (string?)queue["data"]![0]!["id"]);
        Assert.Equal(250, (int)queue["data"]![0]!["arguments"]!["amount"]!);

        // 4. An admin approves: the refund runs and billing answers, in the same conversation.
        var approved = await app.Client.PostAsJsonAsync($"/v1/admin/approvals/{approvalId}/approve", new { note = "verified duplicate" });
        await Http.ExpectAsync(approved, HttpStatusCode.OK);
        var resumed = await Http.JsonAsync(approved);
        Assert.Equal("completed", (string?)resumed["status"]);
        var resumedMessages = resumed["messages"]!.AsArray();
        Assert.Equal(["tool", "assistant"], resumedMessages.Select(m => (string)m!["role"]!).ToArray());
        Assert.StartsWith("Refund request RF-", (string?)resumedMessages[0]!["content"]);
        Assert.StartsWith("refund returned: Refund request RF-", (string?)resumedMessages[1]!["content"]);
        await Http.ProblemAsync(await app.Client.PostAsJsonAsync($"/v1/admin/approvals/{approvalId}/approve", new { }), 409, ProblemTypes.ApprovalDecided);

        // 5. Everything is visible: the conversation's messages, and the audit log.
        var history = await Http.JsonAsync(await widget.GetAsync($"/v1/conversations/{conversation}/messages"));
        var roles = history["data"]!.AsArray().Select(m => (string)m!["role"]!).ToArray();
        Assert.Equal(["user", "handoff", "assistant", "user", "tool", "assistant", "tool", "assistant"], roles);
        Assert.DoesNotContain("4111 1111", history.ToJsonString()); // the card number (random call ids may hold "4111")
        await Wait.UntilAsync(async () => (await app.AuditEventsAsync("refund.requested")).Count == 1 && (await app.AuditEventsAsync("approval.approved")).Count == 1,
            because: "the refund and the approval are audited");
        var approval = await Http.JsonAsync(await app.Client.GetAsync($"/v1/admin/approvals/{approvalId}"));
        Assert.Equal("approved", (string?)approval["status"]);
        Assert.Equal("verified duplicate", (string?)approval["note"]);

        // The conversation is free again.
        await Http.ExpectAsync(await widget.PostAsJsonAsync($"/v1/conversations/{conversation}/messages", new { content = "thank you" }), HttpStatusCode.OK);
    }

    [Fact]
    public async Task A_rejected_call_is_reported_to_the_agent_and_never_runs()
    {
        await using var app = new AgentryApp();
        var turn = await Http.JsonAsync(await app.Client.PostAsJsonAsync("/v1/chat",
            new { message = "/tool refund {\"amount\": 500, \"reason\": \"goodwill\"}", agentId = "billing" }));
        var approvalId = (string)turn["pendingApprovalId"]!;
        var resumed = await Http.JsonAsync(await app.Client.PostAsJsonAsync($"/v1/admin/approvals/{approvalId}/reject", new { note = "not eligible" }));
        var tool = resumed["messages"]![0]!;
        Assert.Equal("denied", (string?)tool["metadata"]!["outcome"]);
        Assert.Equal("Error: a supervisor rejected this call. Note: not eligible", (string?)tool["content"]);
        Assert.Contains("a supervisor rejected this call", (string?)resumed["messages"]![1]!["content"]);
        await Wait.UntilAsync(async () => (await app.AuditEventsAsync("approval.rejected")).Count == 1, because: "the rejection is audited");
        Assert.Empty(await app.AuditEventsAsync("refund.requested"));
    }

    [Fact]
    public async Task An_approval_whose_owner_cannot_afford_the_next_answer_is_refused_before_the_tool_runs()
    {
        await using var app = new AgentryApp();
        var (widgetId, secret) = await app.CreateKeyAsync("widget", ["chat"]);
        var turn = await Http.JsonAsync(await app.CreateApiClient(secret).PostAsJsonAsync("/v1/chat",
            new { message = "/tool refund {\"amount\": 500, \"reason\": \"goodwill\"}", agentId = "billing" }));
        var conversation = (string)turn["conversationId"]!;
        var approvalId = (string)turn["pendingApprovalId"]!;
        // Meanwhile an operator cut the widget's budget below what billing's next answer may use.
        await SetTokensPerMinuteAsync(app, widgetId, 100);

        await Http.ProblemAsync(await app.Client.PostAsJsonAsync($"/v1/admin/approvals/{approvalId}/approve", new { }), 422, ProblemTypes.TokenBudgetTooSmall);
        // Nothing ran and nothing was decided: the approval is still pending and the conversation unchanged.
        Assert.Equal("pending", (string?)(await Http.JsonAsync(await app.Client.GetAsync($"/v1/admin/approvals/{approvalId}")))["status"]);
        Assert.Equal(3, (await app.MessagesAsync(conversation)).Count);
        await Wait.UntilAsync(async () => (await app.AuditEventsAsync("rule.require-approval")).Count == 1, because: "the held turn's audit events are written");
        Assert.Empty(await app.AuditEventsAsync("refund.requested"));

        await SetTokensPerMinuteAsync(app, widgetId, null);
        var resumed = await Http.JsonAsync(await app.Client.PostAsJsonAsync($"/v1/admin/approvals/{approvalId}/approve", new { }));
        Assert.Equal("completed", (string?)resumed["status"]);
        Assert.StartsWith("Refund request RF-", (string?)resumed["messages"]![0]!["content"]);
    }

    static async Task SetTokensPerMinuteAsync(AgentryApp app, string keyId, int? limit)
    {
        await using var scope = app.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<Agentry.Data.AgentryDbContext>();
        await db.ApiKeys.Where(k => k.Id == keyId).ExecuteUpdateAsync(s => s.SetProperty(k => k.TokensPerMinute, limit));
    }

    [Fact]
    public async Task A_refund_within_the_limit_runs_at_once()
    {
        await using var app = new AgentryApp();
        var turn = await Http.JsonAsync(await app.Client.PostAsJsonAsync("/v1/chat",
            new { message = "/tool refund {\"amount\": 40, \"reason\": \"late delivery\"}", agentId = "billing" }));
        Assert.Equal("completed", (string?)turn["status"]);
        Assert.StartsWith("Refund request RF-", (string?)turn["messages"]![1]!["content"]);
        await Http.ProblemAsync(await app.Client.PostAsJsonAsync("/v1/admin/approvals/apr_nope/approve", new { }), 404, ProblemTypes.ApprovalNotFound);
    }

    [Fact]
    public async Task Concurrent_decisions_on_one_approval_run_the_tool_once_and_the_turn_belongs_to_the_conversation_owner()
    {
        await using var app = new AgentryApp();
        var (widgetId, widgetSecret) = await app.CreateKeyAsync("widget", ["chat"]);
        var widget = app.CreateApiClient(widgetSecret);
        var held = await Http.JsonAsync(await widget.PostAsJsonAsync("/v1/chat",
            new { message = "/tool refund {\"amount\": 250, \"reason\": \"double charge\"}", agentId = "billing" }));
        var approvalId = (string)held["pendingApprovalId"]!;

        // Eight supervisors click at once, some approving, some rejecting.
        var decisions = await Task.WhenAll(Enumerable.Range(0, 8).Select(i =>
            app.Client.PostAsJsonAsync($"/v1/admin/approvals/{approvalId}/{(i % 2 == 0 ? "approve" : "reject")}", new { note = $"supervisor {i}" })));
        Assert.Single(decisions, d => d.StatusCode == HttpStatusCode.OK);
        foreach (var refused in decisions.Where(d => d.StatusCode != HttpStatusCode.OK)) await Http.ProblemAsync(refused, 409, ProblemTypes.ApprovalDecided);

        var approval = await Http.JsonAsync(await app.Client.GetAsync($"/v1/admin/approvals/{approvalId}"));
        var messages = await app.MessagesAsync((string)held["conversationId"]!);
        var toolRuns = messages.Count(m => (string?)m!["role"] == "tool" && (string?)m["metadata"]!["outcome"] != "pending-approval");
        Assert.Equal(1, toolRuns); // one decision won: the refund ran (or was refused) once
        if ((string?)approval["status"] == "approved")
            Assert.Single(await app.AuditEventsAsync("refund.requested"));

        // The decision is the supervisor's; the continued turn is the widget's (its key is charged and named in its audit events).
        var decided = Assert.Single(await app.AuditEventsAsync($"approval.{approval["status"]}"))!;
        Assert.Equal(await AdminKeyIdAsync(app), (string?)decided["actor"]);
        if ((string?)approval["status"] == "approved")
            Assert.Equal(widgetId, (string?)(await app.AuditEventsAsync("refund.requested"))[0]!["actor"]);
        var adminId = await AdminKeyIdAsync(app);
        JsonArray byKey = [];
        await Wait.UntilAsync(async () => (byKey = (await Http.JsonAsync(await app.Client.GetAsync("/v1/admin/analytics?groupBy=key")))["data"]!.AsArray())
            .Any(r => (string?)r!["group"] == widgetId && (long)r["inputTokens"]! > 0), because: "the turns' tokens are counted");
        var adminTokens = byKey.Where(r => (string?)r!["group"] == adminId).Sum(r => (long)r!["inputTokens"]! + (long)r["outputTokens"]!);
        Assert.Equal(0, adminTokens); // the supervisor's key paid for nothing: the continued turn was charged to the widget
    }

    static async Task<string> AdminKeyIdAsync(AgentryApp app) =>
        (string)(await Http.JsonAsync(await app.Client.GetAsync("/v1/admin/keys")))["data"]!.AsArray().Single(k => (string?)k!["name"] == "bootstrap-admin")!["id"]!;
}
