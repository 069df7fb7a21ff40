using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Agentry.Api;

namespace Agentry.Tests.Rules;

public sealed class ApprovalTests
{
    static async Task<JsonArray> AuditAsync(AgentryApp app, string action) =>
        (await Http.JsonAsync(await app.Client.GetAsync($"/v1/admin/audit?action={action}")))["data"]!.AsArray();

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
        Assert.Empty(await AuditAsync(app, "refund.requested")); // the tool has not run

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
        Assert.DoesNotContain("4111", history.ToJsonString());
        await Wait.UntilAsync(async () => (await AuditAsync(app, "refund.requested")).Count == 1 && (await AuditAsync(app, "approval.approved")).Count == 1,
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
        await Wait.UntilAsync(async () => (await AuditAsync(app, "approval.rejected")).Count == 1, because: "the rejection is audited");
        Assert.Empty(await AuditAsync(app, "refund.requested"));
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
}
