using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Agentry.Memory;
using Microsoft.Extensions.DependencyInjection;

namespace Agentry.Tests.Memory;

/// <summary>Vectors kept in the service's own database (SQLite or PostgreSQL, no extension) and searched in process.</summary>
public sealed class ConversationSearchTests
{
    [Fact]
    public async Task The_vector_store_ranks_by_cosine_within_one_collection_and_model_and_drops_what_is_not_similar()
    {
        await using var app = new AgentryApp();
        await using var scope = app.Services.CreateAsyncScope();
        var store = scope.ServiceProvider.GetRequiredService<IVectorStore>();
        await store.AddAsync("c1", "m1", [("same", new float[] { 1, 0, 0 }), ("close", new float[] { 0.9f, 0.2f, 0 }), ("orthogonal", new float[] { 0, 1, 0 })], default);
        await store.AddAsync("c1", "m2", [("other-model", new float[] { 1, 0, 0 })], default);
        await store.AddAsync("c2", "m1", [("other-collection", new float[] { 1, 0, 0 })], default);
        await store.AddAsync("c1", "m1", [("same", new float[] { 0, 0, 1 })], default); // stored already: kept as it was

        var matches = await store.SearchAsync("c1", "m1", new float[] { 1, 0, 0 }, top: 5, minScore: 0.5f, default);
        Assert.Equal(["same", "close"], matches.Select(m => m.Id));
        Assert.Equal(1f, matches[0].Score, 0.0001f);
        Assert.InRange(matches[1].Score, 0.97f, 0.98f);
        Assert.Single(await store.SearchAsync("c1", "m1", new float[] { 1, 0, 0 }, top: 1, minScore: 0, default));
        Assert.Equal(["close", "orthogonal", "same"], (await store.IdsAsync("c1", "m1", default)).Order());
        Assert.Equal(4, await store.DeleteCollectionAsync("c1", default)); // three of m1 and one of m2
        Assert.Empty(await store.SearchAsync("c1", "m1", new float[] { 1, 0, 0 }, 5, 0, default));
    }

    [Fact]
    public async Task Conversation_search_finds_messages_by_meaning_embeds_each_once_and_forgets_them_with_the_conversation()
    {
        await using var app = new AgentryApp();
        var first = await Http.JsonAsync(await app.Client.PostAsJsonAsync("/v1/chat", new { message = "My parcel never arrived and the courier did not call me", agentId = "billing" }));
        var conversation = (string)first["conversationId"]!;
        await app.SendAsync(conversation, "Also, can I pay by bank transfer next month?");

        // No word of the query is in the first message: only its meaning matches.
        var reply = await SearchAsync(app, conversation, "delivery problem");
        Assert.Contains("parcel never arrived", reply);
        Assert.Contains("similar in meaning", reply);
        Assert.DoesNotContain("bank transfer", reply);
        var embedded = await CountAsync(app, conversation);
        Assert.True(embedded >= 4, $"{embedded} vectors");

        // Words still come first, and only messages written since the last search are embedded now.
        reply = await SearchAsync(app, conversation, "bank transfer");
        Assert.Matches(@"#\d+ user: Also, can I pay by bank transfer", reply); // a word match: no similarity score
        var messages = (await app.MessagesAsync(conversation)).Count(m => (string?)m!["role"] is "user" or "assistant");
        Assert.Equal(messages - 2, await CountAsync(app, conversation)); // all but this search's own question and answer

        await Http.ExpectAsync(await app.Client.DeleteAsync($"/v1/conversations/{conversation}"), HttpStatusCode.NoContent);
        Assert.Equal(0, await CountAsync(app, conversation));
    }

    static async Task<string> SearchAsync(AgentryApp app, string conversation, string query)
    {
        var turn = await app.SendAsync(conversation, $"/tool conversation_search {new JsonObject { ["query"] = query }.ToJsonString()}");
        return (string)turn["messages"]!.AsArray().Last(m => (string?)m!["role"] == "assistant")!["content"]!;
    }

    static async Task<long> CountAsync(AgentryApp app, string conversation) => Convert.ToInt64(
        await TestDatabase.ScalarAsync(app.DataDirectory, $"SELECT COUNT(*) FROM embeddings WHERE collection = 'conversation:{conversation}'"),
        System.Globalization.CultureInfo.InvariantCulture);
}
