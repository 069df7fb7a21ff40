using Microsoft.Extensions.AI;
using Microsoft.Extensions.Caching.Memory;

namespace Agentry.Models;

/// <summary>
/// Embeddings by text, kept in this process as the vectors themselves. Microsoft.Extensions.AI's caching generator
/// stores each vector as JSON in an <c>IDistributedCache</c> and, on every hit, hashes the text with its options into
/// a key and parses 384 numbers back: 4 % of the service's CPU at saturation, for a question the help-center answered a
/// second before. A hit here is one dictionary lookup. Bounded by the bytes its vectors take (least recently used go
/// first when it is full). Calls with options (another model, other dimensions) are not cached.
/// </summary>
public sealed class EmbeddingMemoryCache(IEmbeddingGenerator<string, Embedding<float>> inner, MemoryCache cache)
    : DelegatingEmbeddingGenerator<string, Embedding<float>>(inner)
{
    /// <summary>What an entry costs beyond its vector: the text, the entry, the embedding object.</summary>
    const int EntryOverhead = 256;

    public static MemoryCache Create(long sizeLimitBytes) => new(new MemoryCacheOptions { SizeLimit = sizeLimitBytes });

    public override async Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(IEnumerable<string> values, EmbeddingGenerationOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        if (options is not null) return await base.GenerateAsync(values, options, cancellationToken);
        var texts = values as IReadOnlyList<string> ?? values.ToList();
        var found = new Embedding<float>?[texts.Count];
        List<string>? missing = null;
        for (var i = 0; i < texts.Count; i++)
        {
            if (cache.TryGetValue(texts[i], out Embedding<float>? hit)) found[i] = hit;
            else (missing ??= []).Add(texts[i]);
        }
        if (missing is null) return new GeneratedEmbeddings<Embedding<float>>(found!);

        var distinct = missing.Distinct(StringComparer.Ordinal).ToList();
        var computed = await base.GenerateAsync(distinct, null, cancellationToken);
        var byText = new Dictionary<string, Embedding<float>>(StringComparer.Ordinal);
        for (var i = 0; i < distinct.Count; i++)
        {
            var embedding = computed[i];
            byText[distinct[i]] = embedding;
            cache.Set(distinct[i], embedding, new MemoryCacheEntryOptions { Size = embedding.Vector.Length * sizeof(float) + distinct[i].Length * sizeof(char) + EntryOverhead });
        }
        for (var i = 0; i < texts.Count; i++) found[i] ??= byText[texts[i]];
        return new GeneratedEmbeddings<Embedding<float>>(found!) { Usage = computed.Usage };
    }
}
