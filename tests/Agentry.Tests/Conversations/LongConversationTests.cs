using System.Net.Http.Json;
using Agentry.Api;

namespace Agentry.Tests.Conversations;

/// <summary>A conversation longer than the history window keeps its older part as a rolling summary; a message larger than the window is refused.</summary>
public sealed class LongConversationTests
{
    [Fact]
    public async Task Messages_that_fall_out_of_the_window_are_folded_into_a_rolling_summary_sent_fenced_instead_of_them()
    {
        await using var openAi = new FakeOpenAiServer();
        await using var app = new AgentryApp(openAi, settings: new() { ["Conversations:HistoryTokenLimit"] = "120" });
        var conversation = (string)(await app.CreateConversationAsync("support"))["id"]!;
        string[] topics = ["the modem lights", "a refund for May", "the Wi-Fi password", "two-factor codes", "the mobile app", "an invoice address", "team seats", "data export"];
        foreach (var topic in topics)
        {
            openAi.Enqueue(FakeReply.Say($"Here is what I know about {topic}. It takes a few steps, and I will walk you through each of them now."));
            await app.SendAsync(conversation, $"Please tell me about {topic}. I have been wondering about it for a while and would like details.");
        }

        var last = openAi.Requests[^1];
        var system = FakeRequest.Text(last.Messages[0]);
        Assert.Contains("## Earlier in this conversation", system);
        Assert.Matches(Fence.Open("summary") + "user: Please tell me about the modem lights\\.", system); // the first message, as a gist
        Assert.DoesNotContain(last.Messages.Skip(1), m => FakeRequest.Text(m).Contains("the modem lights", StringComparison.Ordinal)); // not as a message
        Assert.Contains("data export", last.LastUserText); // the new message is always sent whole

        var through = Convert.ToInt64(await TestDatabase.ScalarAsync(app.DataDirectory, $"SELECT through_sequence FROM conversation_summaries WHERE conversation_id = '{conversation}'", readOnly: true),
            System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(through, 2, 14); // covers the older messages, not the window

        // The context endpoint shows exactly what the next turn sends, part by part.
        await Knowledge.KnowledgeFiles.ShippedHelpCenterAsync(app);
        const string next = "How do I reset my router?";
        var preview = await Http.JsonAsync(await app.Client.GetAsync($"/v1/conversations/{conversation}/context?message={Uri.EscapeDataString(next)}"));
        var parts = preview["parts"]!.AsArray();
        Assert.Equal(["instructions", "tools", "knowledge", "summary", "history"], parts.Select(p => (string)p!["name"]!).ToArray());
        Assert.Equal(parts.Sum(p => (int)p!["tokens"]!), (int)preview["totalTokens"]!);
        Assert.Equal(120, (int)preview["budget"]!["historyTokenLimit"]!);
        openAi.Enqueue(FakeReply.Say("Hold the button."));
        await app.SendAsync(conversation, next);
        var sent = openAi.Requests[^1];
        foreach (var part in parts.Where(p => p!["text"] is not null)) Assert.Contains((string)part!["text"]!, FakeRequest.Text(sent.Messages[0]));
        Assert.Contains("[1] troubleshooting/reset-hub.md", (string?)parts[2]!["text"]);
        Assert.Equal(parts[4]!["messages"]!.AsArray().Select(m => (string)m!["text"]!), sent.Messages.Skip(1).Select(FakeRequest.Text));
        Assert.Equal(parts[1]!["tools"]!.AsArray().Select(t => (string)t!).Order(), sent.Body["tools"]!.AsArray().Select(t => (string)t!["function"]!["name"]!).Order());
        await Http.ProblemAsync(await app.Client.GetAsync("/v1/conversations/conv_nope/context"), 404, ProblemTypes.ConversationNotFound);

        // A message the window cannot hold at all is a clear problem, and nothing is stored.
        var stored = (await app.MessagesAsync(conversation)).Count;
        var huge = string.Join(' ', Enumerable.Repeat("word", 400));
        var refused = await app.Client.PostAsJsonAsync($"/v1/conversations/{conversation}/messages", new { content = huge });
        await Http.ProblemAsync(refused, 413, ProblemTypes.MessageTooLarge);
        Assert.Equal(stored, (await app.MessagesAsync(conversation)).Count);
    }

    [Fact]
    public async Task With_a_summary_model_the_agents_model_rewrites_the_summary_and_the_call_is_charged_to_the_turn()
    {
        await using var openAi = new FakeOpenAiServer();
        await using var app = new AgentryApp(openAi, settings: new() { ["Conversations:HistoryTokenLimit"] = "120", ["Conversations:SummaryModel"] = "agent" });
        var conversation = (string)(await app.CreateConversationAsync("sales"))["id"]!;
        // With nothing queued the fake echoes the last user message: the summary call's answer is its own input, recognisable.
        foreach (var topic in new[] { "the modem lights", "a refund for May", "the Wi-Fi password", "two-factor codes", "the mobile app", "team seats" })
            await app.SendAsync(conversation, $"Please tell me about {topic}. I have been wondering about it for a while and would like details.");

        var summaryCalls = openAi.Requests.Where(r => FakeRequest.Text(r.Messages[0]).StartsWith("You keep the running summary", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(summaryCalls);
        Assert.Matches(Fence.Open("messages") + "user: Please tell me about the modem lights", summaryCalls[0].LastUserText); // the folded messages, fenced
        var method = (string?)await TestDatabase.ScalarAsync(app.DataDirectory, $"SELECT method FROM conversation_summaries WHERE conversation_id = '{conversation}'", readOnly: true);
        Assert.Equal("openai/gpt-4o", method);
        // The next turn's prompt carries the model's summary (here, the echo of what it was given).
        Assert.Contains("Summary so far:", FakeRequest.Text(openAi.Requests[^1].Messages[0]));
        // Charged to the turn: the turn that folded reports the summary call's tokens too (two calls of 11 + 7 at the fake).
        var turns = (await app.MessagesAsync(conversation)).Where(m => (string?)m!["role"] == "assistant" && m["usage"] is not null).Select(m => (int)m!["usage"]!["inputTokens"]!).ToList();
        Assert.Contains(turns, tokens => tokens == 22);
    }
}
