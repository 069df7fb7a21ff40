using System.Net;
using System.Text.Json.Nodes;

namespace Agentry.Tests.Knowledge;

/// <summary>
/// Knowledge:EmbeddingModel set to a provider's model: passages and questions are embedded through the real OpenAI
/// client path, and while that model is down the words still find passages and new documents wait, not fail.
/// </summary>
public sealed class ProviderEmbeddingTests
{
    [Fact]
    public async Task A_providers_embedding_model_indexes_and_searches_and_while_it_is_down_words_still_find_passages()
    {
        await using var openAi = new FakeOpenAiServer();
        await using var app = new AgentryApp(openAi, settings: new()
        {
            ["Knowledge:EmbeddingModel"] = "openai/text-embedding-3-small", ["Knowledge:MinSimilarity"] = "0.2",
        });
        await KnowledgeFiles.AddAsync(app, "router-kb", KnowledgeFiles.File("router.md", KnowledgeFiles.Router));
        Assert.Contains(openAi.EmbeddingRequests, r => (string?)r["model"] == "text-embedding-3-small");
        Assert.Equal(3L, Convert.ToInt64(await TestDatabase.ScalarAsync(app.DataDirectory,
            "SELECT count(*) FROM embeddings WHERE collection = 'kb:router-kb' AND model = 'text-embedding-3-small'", readOnly: true),
            System.Globalization.CultureInfo.InvariantCulture));

        var hits = await KnowledgeFiles.SearchAsync(app, "router-kb", "how do I reset the router");
        Assert.StartsWith("To reset the router", (string?)hits[0]!["text"]);
        Assert.NotEqual("words", (string?)hits[0]!["match"]); // meaning took part
        Assert.Empty(await KnowledgeFiles.SearchAsync(app, "router-kb", "Quantum chromodynamics lectures")); // no word in common: nothing

        // The provider's embedding model goes down: a question is still answered by its words, and a new document waits.
        openAi.EmbeddingsFailWith = 500;
        var byWords = await KnowledgeFiles.SearchAsync(app, "router-kb", "router reset button please");
        Assert.StartsWith("To reset the router", (string?)byWords[0]!["text"]);
        Assert.All(byWords, h => Assert.Equal("words", (string?)h!["match"]));
        var added = await app.Client.PostAsync("/v1/knowledge/router-kb/documents", Http.RawJson(new JsonObject { ["name"] = "hours.md", ["text"] = "# Hours\n\nThe shop opens at nine." }.ToJsonString()));
        await Http.ExpectAsync(added, HttpStatusCode.Accepted);
        var id = (string)(await Http.JsonAsync(added))["id"]!;
        await Wait.UntilAsync(() => openAi.EmbeddingRequests.Any(r => r["input"]?.ToJsonString().Contains("nine", StringComparison.Ordinal) == true),
            because: "the indexer tried the new document");
        var waiting = await Http.JsonAsync(await app.Client.GetAsync($"/v1/knowledge/router-kb/documents/{id}"));
        Assert.NotEqual("failed", (string?)waiting["document"]!["status"]); // not the document's fault

        openAi.EmbeddingsFailWith = null;
        var indexed = await KnowledgeFiles.IndexedAsync(app, "router-kb", id);
        Assert.Equal("indexed", (string?)indexed["document"]!["status"]);
    }
}
