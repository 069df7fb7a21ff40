using System.Net.Http.Json;
using Agentry.Api;

namespace Agentry.Tests.Conversations;

public sealed class ConcurrencyTests
{
    [Fact]
    public async Task A_second_turn_while_one_is_running_is_refused_with_409_and_nothing_interleaves()
    {
        await using var openAi = new FakeOpenAiServer();
        await using var app = new AgentryApp(openAi);
        var id = (string)(await app.CreateConversationAsync())["id"]!;
        var release = new TaskCompletionSource();
        openAi.Enqueue(new FakeReply { Text = "first answer", Gate = release.Task });

        var first = app.Client.PostAsJsonAsync($"/v1/conversations/{id}/messages", new { content = "first" });
        await Wait.UntilAsync(() => openAi.Requests.Count == 1, because: "the first turn reaches the provider");

        var second = await app.Client.PostAsJsonAsync($"/v1/conversations/{id}/messages", new { content = "second" });
        await Http.ProblemAsync(second, 409, ProblemTypes.ConversationBusy);
        Assert.NotNull(second.Headers.RetryAfter);
        var streamed = await Sse.StartAsync(app.Client, $"/v1/conversations/{id}/messages", new { content = "third" });
        await Http.ProblemAsync(streamed, 409, ProblemTypes.ConversationBusy);

        release.SetResult();
        await Http.ExpectAsync(await first, System.Net.HttpStatusCode.OK);
        await app.SendAsync(id, "fourth");

        var history = await app.MessagesAsync(id);
        Assert.Equal(["first", "first answer", "fourth", "fake reply to: fourth"], history.Select(m => (string)m!["content"]!).ToArray());
        Assert.Equal([1L, 2L, 3L, 4L], history.Select(m => (long)m!["sequence"]!).ToArray());
    }

    [Fact]
    public async Task Many_parallel_turns_on_different_conversations_all_persist()
    {
        await using var app = new AgentryApp();
        var ids = new List<string>();
        for (var i = 0; i < 8; i++) ids.Add((string)(await app.CreateConversationAsync())["id"]!);
        // Each conversation takes its turns one after another; the conversations run in parallel.
        await Task.WhenAll(ids.Select(async id =>
        {
            for (var n = 0; n < 3; n++) await app.SendAsync(id, $"turn {n}");
        }));
        foreach (var id in ids)
        {
            var history = await app.MessagesAsync(id);
            Assert.Equal(6, history.Count);
            Assert.Equal(Enumerable.Range(1, 6).Select(i => (long)i), history.Select(m => (long)m!["sequence"]!));
        }
    }
}
