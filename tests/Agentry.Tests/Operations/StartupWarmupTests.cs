using System.Net;
using System.Runtime.InteropServices;
using Agentry.Models;

namespace Agentry.Tests.Operations;

/// <summary>
/// Readiness waits for the warm-up: the knowledge bases agents answer from indexed and loaded. The sample help-center is
/// embedded by a provider's model here, so the test decides when indexing can finish: while that model is down the
/// instance is live but not ready and says what it waits for; once it answers, the instance is ready with every document
/// indexed. Past Health:WarmupTimeout it is ready all the same. The test database's help-center was indexed with the local
/// model, so this is also the start after an operator changed the embedding model: those documents count as waiting.
/// </summary>
public sealed class StartupWarmupTests
{
    static Dictionary<string, string?> ProviderEmbeddings(string warmupTimeout) => new()
    {
        ["Knowledge:EmbeddingModel"] = "openai/text-embedding-3-small", ["Health:WarmupTimeout"] = warmupTimeout,
        ["Health:ModelProbeInterval"] = "00:00:00",
    };

    [Fact]
    public async Task Readiness_waits_until_the_knowledge_agents_answer_from_is_indexed()
    {
        await using var openAi = new FakeOpenAiServer { EmbeddingsFailWith = 503 };
        await using var app = new AgentryApp(openAi, ProviderEmbeddings("00:02:00"));
        Assert.Equal(HttpStatusCode.OK, (await app.Client.GetAsync("/health/live")).StatusCode); // started, and live
        await Wait.UntilAsync(() => openAi.EmbeddingRequests.Count > 0, because: "the indexer tried the help-center's documents");

        var waiting = await app.Client.GetAsync("/health/ready");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, waiting.StatusCode);
        Assert.Equal("Unhealthy", (string?)(await Http.JsonAsync(waiting))["checks"]!.AsArray().Single(c => (string?)c!["name"] == "warm-up")!["status"]);
        var detailed = await Http.JsonAsync(await app.Client.GetAsync("/health"));
        Assert.Matches(@"^Warming up: indexing \d+ document\(s\) of help-center\.$",
            (string?)detailed["checks"]!.AsArray().Single(c => (string?)c!["name"] == "warm-up")!["description"]);
        Assert.True(await QueuedAsync(app) > 0);

        openAi.EmbeddingsFailWith = null; // the provider is back: the indexer's next round indexes everything
        await Wait.UntilAsync(async () => (await app.Client.GetAsync("/health/ready")).StatusCode == HttpStatusCode.OK, TimeSpan.FromSeconds(60),
            because: "the warm-up finishes once the documents are indexed");
        Assert.Equal(0, await QueuedAsync(app)); // ready means indexed
        var warm = await Http.JsonAsync(await app.Client.GetAsync("/health"));
        Assert.Equal("Warm.", (string?)warm["checks"]!.AsArray().Single(c => (string?)c!["name"] == "warm-up")!["description"]);
    }

    [Fact]
    public async Task Past_the_warmup_timeout_the_instance_is_ready_all_the_same()
    {
        await using var openAi = new FakeOpenAiServer { EmbeddingsFailWith = 503 };
        await using var app = new AgentryApp(openAi, ProviderEmbeddings("00:00:01"));
        await Wait.UntilAsync(async () => (await app.Client.GetAsync("/health/ready")).StatusCode == HttpStatusCode.OK, TimeSpan.FromSeconds(30),
            because: "a warm-up that cannot finish stops waiting after Health:WarmupTimeout");
        Assert.True(await QueuedAsync(app) > 0); // still not indexed: the provider is still down
    }

    /// <summary>
    /// Many requests for one text at once share one run of the local model: they receive the very same vector array,
    /// where separate runs would each allocate their own.
    /// </summary>
    [Fact]
    public async Task Concurrent_embeddings_of_one_text_share_one_run_of_the_local_model()
    {
        using var embeddings = new LocalEmbeddingGenerator();
        await embeddings.GenerateAsync(["load the model first"]);
        var text = $"A question asked many times at once {Guid.NewGuid():N}";
        var results = await Task.WhenAll(Enumerable.Range(0, 32).Select(_ => embeddings.GenerateAsync([text])));
        var arrays = results.Select(r => MemoryMarshal.TryGetArray(r[0].Vector, out var segment) ? segment.Array! : throw new InvalidOperationException()).ToList();
        Assert.True(arrays.Distinct(ReferenceEqualityComparer.Instance).Count() < arrays.Count / 2, $"{arrays.Distinct(ReferenceEqualityComparer.Instance).Count()} runs for 32 requests");
        Assert.All(arrays, a => Assert.Equal(arrays[0], a)); // the same vector however it was computed

        var separate = await embeddings.GenerateAsync([text]); // after the run: a new one (the cache in front of the model keeps results, not this)
        Assert.Equal(arrays[0], separate[0].Vector.ToArray());
    }

    static async Task<int> QueuedAsync(AgentryApp app)
    {
        var bases = await Http.JsonAsync(await app.Client.GetAsync("/v1/knowledge"));
        return (int)bases["data"]!.AsArray().Single(b => (string?)b!["name"] == "help-center")!["queued"]!;
    }
}
