using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Agentry.Api;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;

namespace Agentry.Tests.Conversations;

public sealed class ConversationsApiTests
{
    [Fact]
    public async Task Quick_start_chat_with_the_concierge_on_the_offline_model_and_read_history_back()
    {
        await using var app = new AgentryApp();
        var conversation = await app.CreateConversationAsync("concierge", userId: "user-1");
        var id = (string)conversation["id"]!;
        Assert.StartsWith("conv_", id);
        Assert.Equal("concierge", (string?)conversation["agentId"]);
        Assert.Equal("Hi, I'm Ada from Northwind. How can I help you today?", (string?)conversation["greeting"]); // the greeting opens it

        var turn = await app.SendAsync(id, "Hello, who are you?");
        Assert.Equal("offline", (string?)turn["model"]);
        Assert.Equal(id, (string?)turn["conversationId"]);
        var messages = turn["messages"]!.AsArray();
        Assert.Equal(2, messages.Count);
        Assert.Equal("user", (string?)messages[0]!["role"]);
        Assert.Equal("Hello, who are you?", (string?)messages[0]!["content"]);
        var reply = messages[1]!;
        Assert.Equal("assistant", (string?)reply["role"]);
        Assert.Equal("concierge", (string?)reply["agentId"]);
        Assert.StartsWith("This is Ada", (string?)reply["content"]); // greeted already, so straight to the point
        Assert.Contains("offline model", (string?)reply["content"]);
        Assert.Equal("offline", (string?)reply["model"]);
        Assert.True((int)turn["usage"]!["inputTokens"]! > 0);
        Assert.True((int)turn["usage"]!["outputTokens"]! > 0);
        Assert.Equal("completed", (string?)reply["status"]);
        Assert.Equal("stop", (string?)reply["finishReason"]);

        var second = await app.SendAsync(id, "Thanks");
        Assert.DoesNotContain("Hi, I'm Ada", (string?)second["messages"]![1]!["content"]); // greeting only once

        var history = await app.MessagesAsync(id);
        Assert.Equal(["assistant", "user", "assistant", "user", "assistant"], history.Select(m => (string)m!["role"]!).ToArray());
        Assert.Equal("greeting", (string?)history[0]!["finishReason"]);
        Assert.Equal([1L, 2L, 3L, 4L, 5L], history.Select(m => (long)m!["sequence"]!).ToArray());
        Assert.EndsWith("Z", (string?)history[0]!["createdAt"]);

        var fetched = await Http.JsonAsync(await app.Client.GetAsync($"/v1/conversations/{id}"));
        Assert.Equal(5, (int)fetched["messageCount"]!);
        Assert.Equal("user-1", (string?)fetched["userId"]);
    }

    [Fact]
    public async Task Offline_model_is_deterministic()
    {
        await using var app = new AgentryApp();
        // Same question, same knowledge: the billing agent answers from the help-center, which is still being indexed
        // for a moment after start (test apps are ready at once; a real instance's readiness waits for it).
        await Knowledge.KnowledgeFiles.ShippedHelpCenterAsync(app);
        var a = await app.SendAsync((string)(await app.CreateConversationAsync("billing"))["id"]!, "Where is my invoice?");
        var b = await app.SendAsync((string)(await app.CreateConversationAsync("billing"))["id"]!, "Where is my invoice?");
        Assert.Equal((string?)a["messages"]![1]!["content"], (string?)b["messages"]![1]!["content"]);
        Assert.Contains("This is Ben", (string?)a["messages"]![1]!["content"]);
    }

    [Fact]
    public async Task Chat_endpoint_creates_a_conversation_with_the_default_agent_and_continues_it()
    {
        await using var app = new AgentryApp();
        var first = await Http.JsonAsync(await app.Client.PostAsJsonAsync("/v1/chat", new { message = "Hi there", userId = "u-42" }));
        var id = (string)first["conversationId"]!;
        Assert.Equal("concierge", (string?)first["agentId"]);

        var second = await app.Client.PostAsJsonAsync("/v1/chat", new { message = "Can you help with billing?", conversationId = id, agentId = "billing" });
        await Http.ExpectAsync(second, HttpStatusCode.OK);
        var turn = await Http.JsonAsync(second);
        Assert.Equal("billing", (string?)turn["agentId"]);
        Assert.Contains("This is Ben", (string?)turn["messages"]![1]!["content"]);

        var conversation = await Http.JsonAsync(await app.Client.GetAsync($"/v1/conversations/{id}"));
        Assert.Equal("billing", (string?)conversation["agentId"]); // naming an agent switches the conversation to it
        Assert.Equal("u-42", (string?)conversation["userId"]);
        Assert.Equal(4, (await app.MessagesAsync(id)).Count);
    }

    [Fact]
    public async Task Lists_are_cursor_paginated_and_filterable()
    {
        await using var app = new AgentryApp();
        var ids = new List<string>();
        for (var i = 0; i < 5; i++) ids.Add((string)(await app.CreateConversationAsync(i < 3 ? "sales" : "support", userId: "pager"))["id"]!);

        var seen = new List<string>();
        string? cursor = null;
        do
        {
            var page = await Http.JsonAsync(await app.Client.GetAsync($"/v1/conversations?userId=pager&limit=2{(cursor is null ? "" : $"&cursor={cursor}")}"));
            seen.AddRange(page["data"]!.AsArray().Select(c => (string)c!["id"]!));
            cursor = (string?)page["nextCursor"];
        } while (cursor is not null);
        Assert.Equal(ids.AsEnumerable().Reverse(), seen); // newest first, every conversation exactly once

        var sales = await Http.JsonAsync(await app.Client.GetAsync("/v1/conversations?agentId=sales"));
        Assert.Equal(3, sales["data"]!.AsArray().Count);

        var id = ids[0];
        for (var i = 0; i < 3; i++) await app.SendAsync(id, $"message {i}");
        var firstPage = await Http.JsonAsync(await app.Client.GetAsync($"/v1/conversations/{id}/messages?limit=4"));
        Assert.Equal(4, firstPage["data"]!.AsArray().Count);
        var nextPage = await Http.JsonAsync(await app.Client.GetAsync($"/v1/conversations/{id}/messages?limit=4&cursor={firstPage["nextCursor"]}"));
        Assert.Equal([5L, 6L], nextPage["data"]!.AsArray().Select(m => (long)m!["sequence"]!).ToArray());
        Assert.Null(nextPage["nextCursor"]);

        await Http.ProblemAsync(await app.Client.GetAsync("/v1/conversations?limit=0"), 400, ProblemTypes.ValidationFailed);
        await Http.ProblemAsync(await app.Client.GetAsync($"/v1/conversations/{id}/messages?cursor=abc"), 400, ProblemTypes.ValidationFailed);
    }

    [Fact]
    public async Task Deleting_a_conversation_removes_its_messages()
    {
        await using var app = new AgentryApp();
        var id = (string)(await app.CreateConversationAsync())["id"]!;
        await app.SendAsync(id, "hello");
        Assert.Equal(HttpStatusCode.NoContent, (await app.Client.DeleteAsync($"/v1/conversations/{id}")).StatusCode);
        await Http.ProblemAsync(await app.Client.GetAsync($"/v1/conversations/{id}"), 404, ProblemTypes.ConversationNotFound);
        await Http.ProblemAsync(await app.Client.GetAsync($"/v1/conversations/{id}/messages"), 404, ProblemTypes.ConversationNotFound);
        await Http.ProblemAsync(await app.Client.DeleteAsync($"/v1/conversations/{id}"), 404, ProblemTypes.ConversationNotFound);

        await using var scope = app.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<Agentry.Data.AgentryDbContext>();
        Assert.Equal(0, db.Messages.Count(m => m.ConversationId == id));
    }

    [Fact]
    public async Task Unknown_agent_and_conversation_are_404_problems()
    {
        await using var app = new AgentryApp();
        await Http.ProblemAsync(await app.Client.PostAsJsonAsync("/v1/conversations", new { agentId = "nobody" }), 404, ProblemTypes.AgentNotFound);
        await Http.ProblemAsync(await app.Client.PostAsJsonAsync("/v1/conversations/conv_0000/messages", new { content = "hi" }), 404, ProblemTypes.ConversationNotFound);
        await Http.ProblemAsync(await app.Client.PostAsJsonAsync("/v1/chat", new { message = "hi", agentId = "nobody" }), 404, ProblemTypes.AgentNotFound);
        var id = (string)(await app.CreateConversationAsync())["id"]!;
        await Http.ProblemAsync(await app.Client.PostAsJsonAsync($"/v1/conversations/{id}/messages", new { content = "hi", agentId = "ghost" }), 404, ProblemTypes.AgentNotFound);
        await Http.ProblemAsync(await app.Client.GetAsync("/v1/nothing-here"), 404, ProblemTypes.NotFound);
        Assert.Empty(await app.MessagesAsync(id)); // a rejected turn stores nothing
    }

    [Fact]
    public async Task Client_mistakes_get_clear_problems_and_store_nothing()
    {
        await using var app = new AgentryApp(settings: new() { ["Api:MaxRequestBodyBytes"] = "65536" });
        var id = (string)(await app.CreateConversationAsync())["id"]!;
        var path = $"/v1/conversations/{id}/messages";

        var malformed = await Http.ProblemAsync(await app.Client.PostAsync(path, Http.RawJson("{\"content\": \"hi\"")), 400, ProblemTypes.InvalidJson);
        Assert.NotNull(malformed["errors"]);

        var wrongType = await Http.ProblemAsync(await app.Client.PostAsync(path, Http.RawJson("{\"content\": 42}")), 400, ProblemTypes.InvalidJson);
        Assert.Contains("$.content", wrongType["errors"]!.AsObject().Select(e => e.Key));

        var unknownField = await Http.ProblemAsync(await app.Client.PostAsync(path, Http.RawJson("{\"content\": \"hi\", \"agentID\": \"x\"}")), 400, ProblemTypes.InvalidJson);
        Assert.Equal("Unknown property 'agentID'; property names are camelCase and case-sensitive.", (string?)unknownField["errors"]!["$.agentID"]![0]);
        Assert.StartsWith("The value has the wrong type for this field", (string?)wrongType["errors"]!["$.content"]![0]);
        var empty = await Http.ProblemAsync(await app.Client.PostAsync(path, Http.RawJson("null")), 400, ProblemTypes.InvalidJson);
        Assert.Equal("The request body is empty or null; send a JSON object.", (string?)empty["detail"]);

        await Http.ProblemAsync(await app.Client.PostAsync(path, new StringContent("content=hi", Encoding.UTF8, "application/x-www-form-urlencoded")), 415, ProblemTypes.UnsupportedMediaType);

        var missing = await Http.ProblemAsync(await app.Client.PostAsJsonAsync(path, new { agentId = "billing" }), 400, ProblemTypes.ValidationFailed);
        Assert.Equal("Required.", (string?)missing["errors"]!["content"]![0]);

        var blank = await Http.ProblemAsync(await app.Client.PostAsJsonAsync(path, new { content = "   " }), 400, ProblemTypes.ValidationFailed);
        Assert.NotNull(blank["errors"]!["content"]);

        var tooLong = await Http.ProblemAsync(await app.Client.PostAsJsonAsync(path, new { content = new string('a', PostMessageLimit + 1) }), 400, ProblemTypes.ValidationFailed);
        Assert.Contains("at most", (string?)tooLong["errors"]!["content"]![0]);

        await Http.ProblemAsync(await app.Client.PostAsJsonAsync(path, new { content = new string('a', 70_000) }), 413, ProblemTypes.PayloadTooLarge);

        var badAgent = await Http.ProblemAsync(await app.Client.PostAsJsonAsync(path, new { content = "hi", agentId = "Not A Slug" }), 400, ProblemTypes.ValidationFailed);
        Assert.NotNull(badAgent["errors"]!["agentId"]);

        var deep = "{\"agentId\":\"concierge\",\"metadata\":{\"a\":" + string.Concat(Enumerable.Repeat("[", 40)) + string.Concat(Enumerable.Repeat("]", 40)) + "}}";
        await Http.ProblemAsync(await app.Client.PostAsync("/v1/conversations", Http.RawJson(deep)), 400, ProblemTypes.InvalidJson);

        await Http.ProblemAsync(await app.Client.PutAsJsonAsync(path, new { content = "hi" }), 405, ProblemTypes.MethodNotAllowed);
        await Http.ProblemAsync(await app.Client.PostAsJsonAsync("/v1/chat", new { message = "hi", conversationId = "not-an-id" }), 400, ProblemTypes.ValidationFailed);

        Assert.Empty(await app.MessagesAsync(id));
    }

    [Fact]
    public async Task The_history_sent_to_the_model_is_capped_by_tokens_keeping_the_newest_messages()
    {
        await using var openAi = new FakeOpenAiServer();
        await using var app = new AgentryApp(openAi, new() { ["Conversations:HistoryTokenLimit"] = "200" });
        var longMessage = "long " + string.Concat(Enumerable.Repeat("word ", 190)); // about 190 o200k tokens: fits the window alone, not with the newer ones
        openAi.Enqueue(FakeReply.Say("ok"), FakeReply.Say("ok"), FakeReply.Say("ok"));
        var id = (string)(await Http.JsonAsync(await app.Client.PostAsJsonAsync("/v1/chat", new { message = longMessage })))["conversationId"]!;
        await Http.ExpectAsync(await app.Client.PostAsJsonAsync($"/v1/conversations/{id}/messages", new { content = "two" }), HttpStatusCode.OK);
        await Http.ExpectAsync(await app.Client.PostAsJsonAsync($"/v1/conversations/{id}/messages", new { content = "three" }), HttpStatusCode.OK);

        var sent = openAi.Requests[^1].Messages.Select(FakeRequest.Text).ToList();
        Assert.DoesNotContain(sent, text => text.StartsWith("long word", StringComparison.Ordinal)); // only 50 messages by count, but 190 tokens
        Assert.Equal(["ok", "two", "ok", "three"], sent.Skip(1)); // after the system prompt, the newest that fit, in order
        Assert.Equal(6, (await app.MessagesAsync(id)).Count); // the conversation itself keeps everything
    }

    [Fact]
    public async Task The_history_window_reads_each_messages_stored_token_count_and_counts_rows_stored_without_one()
    {
        await using var openAi = new FakeOpenAiServer();
        await using var app = new AgentryApp(openAi, new() { ["Conversations:HistoryTokenLimit"] = "200" });
        openAi.Enqueue(FakeReply.Say("ok one"), FakeReply.Say("ok two"), FakeReply.Say("ok three"), FakeReply.Say("ok four"));
        var id = (string)(await Http.JsonAsync(await app.Client.PostAsJsonAsync("/v1/chat", new { message = "one" })))["conversationId"]!;
        await Http.ExpectAsync(await app.Client.PostAsJsonAsync($"/v1/conversations/{id}/messages", new { content = "two" }), HttpStatusCode.OK);

        // Each message the window sends is stored with what it costs there: its text and the role's overhead.
        async Task<long?> StoredTokensAsync(string content) => await TestDatabase.ScalarAsync(app.DataDirectory,
            $"SELECT tokens FROM messages WHERE conversation_id = '{id}' AND content = '{content}'", readOnly: true) is { } value and not DBNull
            ? Convert.ToInt64(value, System.Globalization.CultureInfo.InvariantCulture) : null;
        Assert.Equal(Agentry.Models.Tokens.Count(new ChatMessage(ChatRole.User, "two")), await StoredTokensAsync("two"));
        Assert.Equal(Agentry.Models.Tokens.Count(new ChatMessage(ChatRole.Assistant, "ok one")), await StoredTokensAsync("ok one"));
        Assert.Null(await StoredTokensAsync("")); // the turn's closing row with the model facts is never sent

        // Rows without a count (written before it was stored, or imported) are counted when read: the same window.
        await TestDatabase.ExecuteAsync(app.DataDirectory, $"UPDATE messages SET tokens = NULL WHERE conversation_id = '{id}'");
        await Http.ExpectAsync(await app.Client.PostAsJsonAsync($"/v1/conversations/{id}/messages", new { content = "three" }), HttpStatusCode.OK);
        Assert.Equal(["one", "ok one", "two", "ok two", "three"], openAi.Requests[^1].Messages.Skip(1).Select(FakeRequest.Text));

        // The stored count is what the window reads: a message stored as larger than the window ends it there.
        await TestDatabase.ExecuteAsync(app.DataDirectory, $"UPDATE messages SET tokens = 500 WHERE conversation_id = '{id}' AND content = 'two'");
        await Http.ExpectAsync(await app.Client.PostAsJsonAsync($"/v1/conversations/{id}/messages", new { content = "four" }), HttpStatusCode.OK);
        Assert.Equal(["ok two", "three", "ok three", "four"], openAi.Requests[^1].Messages.Skip(1).Select(FakeRequest.Text));
    }

    const int PostMessageLimit = Agentry.Conversations.PostMessageRequest.MaxContentLength;

    [Fact]
    public async Task Conversations_are_filtered_by_a_waiting_approval_and_by_their_last_activity()
    {
        await using var app = new AgentryApp();
        var quiet = (string)(await app.CreateConversationAsync("billing"))["id"]!;
        var held = (string)(await app.CreateConversationAsync("billing"))["id"]!;
        var turn = await app.SendAsync(held, "/tool refund {\"amount\": 250, \"reason\": \"double charge\"}");
        Assert.Equal("pending_approval", (string?)turn["status"]);

        async Task<string[]> IdsAsync(string query) =>
            (await Http.JsonAsync(await app.Client.GetAsync($"/v1/conversations?{query}")))["data"]!.AsArray().Select(c => (string)c!["id"]!).ToArray();
        Assert.Equal([held], await IdsAsync("status=pending_approval"));
        var tomorrow = DateTimeOffset.UtcNow.AddDays(1).ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture);
        Assert.Empty(await IdsAsync($"from={tomorrow}T00:00:00Z"));
        Assert.Equal([held, quiet], await IdsAsync($"to={tomorrow}T00:00:00Z&agentId=billing"));
        var problem = await Http.ProblemAsync(await app.Client.GetAsync("/v1/conversations?status=everything"), 400, ProblemTypes.ValidationFailed);
        Assert.Contains("pending_approval", problem["errors"]!["status"]![0]!.ToString());

        // Decided, it no longer waits.
        await Http.ExpectAsync(await app.Client.PostAsync($"/v1/admin/approvals/{(string)turn["pendingApprovalId"]!}/approve", Http.RawJson("{}")), HttpStatusCode.OK);
        Assert.Empty(await IdsAsync("status=pending_approval"));
    }
}
