#pragma warning disable OPENAI001 // the Responses client is marked experimental by the SDK
using System.ClientModel;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Agentry.Api;
using OpenAI.Responses;

namespace Agentry.Tests.OpenAi;

/// <summary>The official OpenAI .NET SDK's Responses client against a running Agentry: stored, continued, streamed, background, cancelled, resumed.</summary>
public sealed class ResponsesTests
{
    [Fact]
    public async Task A_response_is_stored_continued_by_previous_response_id_and_its_input_items_listed()
    {
        await using var openAi = new FakeOpenAiServer();
        await using var app = new AgentryApp(openAi);
        openAi.Enqueue(FakeReply.Say("The Team plan is 25 USD per user."), FakeReply.Say("For 12 users, 300 USD."));
        var responses = app.OpenAiClient().GetResponsesClient();

        var first = (await responses.CreateResponseAsync(new CreateResponseOptions("sales", [ResponseItem.CreateUserMessageItem("What does Team cost?")])
        {
            Instructions = "Answer in one sentence.", Temperature = 0.3f, MaxOutputTokenCount = 80, EndUserId = "buyer-1",
        })).Value;
        Assert.Equal(ResponseStatus.Completed, first.Status);
        Assert.Equal("The Team plan is 25 USD per user.", first.GetOutputText());
        Assert.Equal(18, first.Usage.TotalTokenCount);
        var sent = openAi.Requests[^1];
        Assert.Matches(Fence.Around("client system message", "Answer in one sentence."), FakeRequest.Text(sent.Messages[0]));
        Assert.Equal(80, (int?)(sent.Body["max_completion_tokens"] ?? sent.Body["max_tokens"]));

        // Continued by its id: the model sees the earlier exchange; both belong to one stored conversation.
        var second = (await responses.CreateResponseAsync(new CreateResponseOptions("sales", [ResponseItem.CreateUserMessageItem("And for 12 users?")])
        {
            PreviousResponseId = first.Id,
        })).Value;
        Assert.Equal("For 12 users, 300 USD.", second.GetOutputText());
        Assert.Equal(["system", "user", "assistant", "user"], openAi.Requests[^1].Messages.Select(m => (string)m!["role"]!).ToArray());
        var raw = await Http.JsonAsync(await app.Client.GetAsync($"/v1/responses/{second.Id}"));
        var conversation = (string)raw["conversation"]!["id"]!;
        Assert.Equal(conversation, (string?)(await Http.JsonAsync(await app.Client.GetAsync($"/v1/responses/{first.Id}")))["conversation"]!["id"]);
        Assert.Equal("buyer-1", (string?)(await Http.JsonAsync(await app.Client.GetAsync($"/v1/conversations/{conversation}")))["userId"]);

        var stored = (await responses.GetResponseAsync(first.Id)).Value;
        Assert.Equal(first.GetOutputText(), stored.GetOutputText());
        var inputs = new List<ResponseItem>();
        await foreach (var item in responses.GetResponseInputItemsAsync(first.Id)) inputs.Add(item);
        Assert.Equal("What does Team cost?", Assert.IsAssignableFrom<MessageResponseItem>(Assert.Single(inputs)).Content[0].Text);

        // Deleted: gone for the SDK too; its conversation stays.
        Assert.True((await responses.DeleteResponseAsync(first.Id)).Value.Deleted);
        var gone = await Assert.ThrowsAsync<ClientResultException>(() => responses.GetResponseAsync(first.Id));
        Assert.Equal(404, gone.Status);
        await Http.ExpectAsync(await app.Client.GetAsync($"/v1/conversations/{conversation}"), HttpStatusCode.OK);
    }

    [Fact]
    public async Task A_streamed_response_sends_typed_events_in_order_and_agentry_events_beside_them()
    {
        await using var app = new AgentryApp(); // the offline model calls tools on /tool
        var responses = app.OpenAiClient().GetResponsesClient();
        var kinds = new List<string>();
        var numbers = new List<int>();
        var text = new System.Text.StringBuilder();
        ResponseResult? completed = null;
        await foreach (var update in await responses.CreateResponseStreamingAsync(new CreateResponseOptions("sales", [ResponseItem.CreateUserMessageItem("/tool calculator {\"expression\":\"12*25\"}")]) { StreamingEnabled = true }))
        {
            kinds.Add(update.Kind.ToString());
            numbers.Add(update.SequenceNumber);
            if (update is StreamingResponseOutputTextDeltaUpdate delta) text.Append(delta.Delta);
            if (update is StreamingResponseCompletedUpdate done) completed = done.Response;
        }
        Assert.Equal(Enumerable.Range(0, numbers.Count), numbers);
        Assert.Equal("response.created", kinds[0]);
        Assert.NotNull(completed);
        Assert.Equal(text.ToString(), completed!.GetOutputText());
        Assert.Contains("300", text.ToString());

        // On the wire the agent's own tool call is an agentry.* event, never a function_call a client would try to run.
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/responses")
        {
            Content = JsonContent.Create(new { model = "sales", stream = true, input = "/tool calculator {\"expression\":\"2*3\"}" }),
        };
        using var response = await app.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        var events = await Sse.ReadAllAsync(response);
        Assert.Contains(events, e => e.Type == "agentry.tool.call" && (string?)e.Data!["data"]!["name"] == "calculator");
        Assert.DoesNotContain(events, e => (string?)e.Data!["item"]?["type"] == "function_call");
        Assert.Equal("response.completed", events[^1].Type);
    }

    [Fact]
    public async Task A_client_function_call_ends_the_response_and_its_output_continues_it()
    {
        await using var openAi = new FakeOpenAiServer();
        await using var app = new AgentryApp(openAi);
        openAi.Enqueue(FakeReply.CallTool("lookup_order", """{"orderId":"42"}"""), FakeReply.Say("Order 42 shipped."));
        var responses = app.OpenAiClient().GetResponsesClient();
        var tool = ResponseTool.CreateFunctionTool("lookup_order", BinaryData.FromString("""{"type":"object","properties":{"orderId":{"type":"string"}}}"""), false, "Finds an order.");

        var first = (await responses.CreateResponseAsync(new CreateResponseOptions("support", [ResponseItem.CreateUserMessageItem("Where is order 42?")]) { Tools = { tool } })).Value;
        var call = Assert.IsType<FunctionCallResponseItem>(Assert.Single(first.OutputItems));
        Assert.Equal("lookup_order", call.FunctionName);

        var second = (await responses.CreateResponseAsync(new CreateResponseOptions("support", [ResponseItem.CreateFunctionCallOutputItem(call.CallId, "Shipped on Friday.")])
        {
            PreviousResponseId = first.Id, Tools = { tool },
        })).Value;
        Assert.Equal("Order 42 shipped.", second.GetOutputText());
        var sent = openAi.Requests[^1].Messages;
        Assert.Equal("tool", (string?)sent[^1]!["role"]);
        Assert.Matches(Fence.Around("tool lookup_order", "Shipped on Friday."), FakeRequest.Text(sent[^1]));
    }

    [Fact]
    public async Task A_background_response_runs_without_its_client_is_polled_resumed_and_cancelled()
    {
        await using var openAi = new FakeOpenAiServer();
        await using var app = new AgentryApp(openAi);
        var responses = app.OpenAiClient().GetResponsesClient();

        // Runs while nobody waits, and is polled to its end.
        var release = new TaskCompletionSource();
        openAi.Enqueue(new FakeReply { Text = "one two three four five six", PauseAfterChunks = 2, PauseGate = release.Task });
        var queued = (await responses.CreateResponseAsync(new CreateResponseOptions("support", [ResponseItem.CreateUserMessageItem("long job")]) { BackgroundModeEnabled = true })).Value;
        Assert.Equal(ResponseStatus.Queued, queued.Status);
        await Wait.UntilAsync(async () => (await responses.GetResponseAsync(queued.Id)).Value.Status == ResponseStatus.InProgress, because: "it runs");

        // A client that reads the stream part way, then resumes after the last event it saw, gets the rest once.
        var seen = new List<int>();
        await foreach (var update in await responses.GetResponseStreamingAsync(new GetResponseOptions(queued.Id) { StreamingEnabled = true, StartingAfter = 1 }))
        {
            seen.Add(update.SequenceNumber);
            if (update is StreamingResponseOutputTextDeltaUpdate) break;
        }
        release.SetResult();
        var rest = new List<StreamingResponseUpdate>();
        await foreach (var update in await responses.GetResponseStreamingAsync(new GetResponseOptions(queued.Id) { StreamingEnabled = true, StartingAfter = seen[^1] }))
            rest.Add(update);
        Assert.Equal(2, seen[0]);
        Assert.Equal(seen[^1] + 1, rest[0].SequenceNumber);
        var done = Assert.IsType<StreamingResponseCompletedUpdate>(rest[^1]);
        Assert.Equal("one two three four five six", done.Response.GetOutputText());
        Assert.Equal(ResponseStatus.Completed, (await responses.GetResponseAsync(queued.Id)).Value.Status);

        // Cancelled while the provider is still answering: the response says cancelled, the conversation keeps what was said.
        openAi.Enqueue(new FakeReply { Text = "never", Gate = new TaskCompletionSource().Task });
        var running = (await responses.CreateResponseAsync(new CreateResponseOptions("support", [ResponseItem.CreateUserMessageItem("another long job")]) { BackgroundModeEnabled = true })).Value;
        await Wait.UntilAsync(() => openAi.Requests.Any(r => r.LastUserText == "another long job"), because: "it reached the provider");
        var cancelled = (await responses.CancelResponseAsync(running.Id)).Value;
        Assert.Equal(ResponseStatus.Cancelled, cancelled.Status);
        Assert.Equal(ResponseStatus.Cancelled, (await responses.GetResponseAsync(running.Id)).Value.Status);
        await Wait.UntilAsync(() => openAi.AbortedRequests == 1, because: "the provider call is cut");
    }

    [Fact]
    public async Task Bad_requests_are_400s_and_unknown_ones_404s_in_openai_shape()
    {
        await using var app = new AgentryApp();
        var responses = app.OpenAiClient().GetResponsesClient();
        var unknown = await Assert.ThrowsAsync<ClientResultException>(() => responses.CreateResponseAsync("nobody", "hi"));
        Assert.Equal(404, unknown.Status);
        var missing = await Assert.ThrowsAsync<ClientResultException>(() =>
            responses.CreateResponseAsync(new CreateResponseOptions("support", [ResponseItem.CreateUserMessageItem("hi")]) { PreviousResponseId = "resp_" + new string('0', 32) }));
        Assert.Equal(404, missing.Status);
        Assert.Contains("response-not-found", missing.GetRawResponse()!.Content.ToString());

        foreach (var (body, param) in new[]
        {
            ("""{"model":"support","input":"hi","background":true,"store":false}""", "background"),
            ("""{"model":"support","input":[{"type":"image_generation_call","id":"x"}]}""", "input"),
            ("""{"model":"support","input":"hi","tools":[{"type":"web_search"}]}""", "tools[0].type"),
            ("""{"model":"support","input":"hi","previous_response_id":"resp_x","conversation":"conv_y"}""", "previous_response_id"),
        })
        {
            var response = await app.Client.PostAsync("/v1/responses", Http.RawJson(body));
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            var error = (await Http.JsonAsync(response))["error"]!;
            Assert.Equal("invalid_request_error", (string?)error["type"]);
            Assert.StartsWith(param, (string?)error["param"]);
        }

        // Only a background response can be cancelled; another key's response does not exist for this one.
        var plain = (await responses.CreateResponseAsync("support", "hello")).Value;
        var refused = await Assert.ThrowsAsync<ClientResultException>(() => responses.CancelResponseAsync(plain.Id));
        Assert.Equal(400, refused.Status);
        var (_, other) = await app.CreateKeyAsync("other", ["chat"]);
        var foreign = await Assert.ThrowsAsync<ClientResultException>(() => app.OpenAiClient(other).GetResponsesClient().GetResponseAsync(plain.Id));
        Assert.Equal(404, foreign.Status);
    }

    [Fact]
    public async Task A_background_response_keeps_its_keys_concurrency_slot_until_it_ends()
    {
        await using var openAi = new FakeOpenAiServer();
        await using var app = new AgentryApp(openAi);
        var (_, secret) = await app.CreateKeyAsync("one-at-a-time", ["chat"], new { concurrentRequests = 1 });
        var client = app.CreateApiClient(secret);
        var release = new TaskCompletionSource();
        openAi.Enqueue(new FakeReply { Text = "done", Gate = release.Task });

        var queued = await Http.JsonAsync(await client.PostAsJsonAsync("/v1/responses", new { model = "support", input = "long job", background = true }));
        await Wait.UntilAsync(() => openAi.Requests.Any(r => r.LastUserText == "long job"), because: "it runs");
        // Returning early did not free the key's one slot: a second turn waits for the first to end.
        await Http.ProblemAsync(await client.PostAsJsonAsync("/v1/chat", new { message = "meanwhile", agentId = "support" }), 429, ProblemTypes.ConcurrencyLimited);
        release.SetResult();
        await Wait.UntilAsync(async () => (string?)(await Http.JsonAsync(await app.Client.GetAsync($"/v1/responses/{queued["id"]}")))["status"] == "completed",
            because: "it finishes");
        await Wait.UntilAsync(async () => (await client.PostAsJsonAsync("/v1/chat", new { message = "now", agentId = "support" })).StatusCode == HttpStatusCode.OK,
            because: "the slot is free again");
    }
}
