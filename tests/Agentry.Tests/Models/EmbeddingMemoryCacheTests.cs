using Agentry.Models;
using Microsoft.Extensions.AI;

namespace Agentry.Tests.Models;

/// <summary>
/// The cache of embeddings in front of the local model: a text asked again gets the vector computed the first time
/// (the same object, not a parsed copy), a batch of hits and misses comes back in order with the values the model
/// gives, calls with options are passed through, and the cache stays within its byte limit.
/// </summary>
public sealed class EmbeddingMemoryCacheTests
{
    [Fact]
    public async Task A_repeated_text_gets_the_vector_computed_the_first_time_and_a_mixed_batch_keeps_its_order()
    {
        using var model = new LocalEmbeddingGenerator();
        using var memory = EmbeddingMemoryCache.Create(1024 * 1024);
        using var cached = new EmbeddingMemoryCache(model, memory);

        var first = (await cached.GenerateAsync(["How do I reset my router?"]))[0];
        var again = (await cached.GenerateAsync(["How do I reset my router?"]))[0];
        Assert.Same(first, again);

        string[] batch = ["Where is my invoice?", "How do I reset my router?", "Where is my invoice?", "Can I change my plan?"];
        var mixed = await cached.GenerateAsync(batch);
        var uncached = await model.GenerateAsync(batch);
        Assert.Equal(batch.Length, mixed.Count);
        Assert.Same(first, mixed[1]);
        Assert.Same(mixed[0], mixed[2]); // one text asked twice in a batch is computed once
        for (var i = 0; i < batch.Length; i++)
            Assert.Equal(uncached[i].Vector.ToArray(), mixed[i].Vector.ToArray(), (a, b) => Math.Abs(a - b) < 1e-5f);

        // Options (another model, other dimensions) are the inner generator's business: not served from the cache.
        var withOptions = (await cached.GenerateAsync(["How do I reset my router?"], new EmbeddingGenerationOptions()))[0];
        Assert.NotSame(first, withOptions);
    }

    [Fact]
    public async Task The_cache_holds_no_more_vectors_than_its_byte_limit_allows()
    {
        using var model = new LocalEmbeddingGenerator();
        // Room for about twenty 384-dimension vectors with their texts.
        using var memory = EmbeddingMemoryCache.Create(20 * (384 * sizeof(float) + 300));
        using var cached = new EmbeddingMemoryCache(model, memory);

        await cached.GenerateAsync(Enumerable.Range(0, 60).Select(i => $"question number {i} about billing").ToList());

        Assert.InRange(memory.Count, 1, 20);
    }
}
