namespace Agentry.Models;

#pragma warning disable CA1720 // the values are what operators write in configuration: the weights' number formats
/// <summary>
/// Which copy of the local embedding model's weights is loaded (<c>Models:LocalEmbeddingWeights</c>). The package
/// ships float32 weights only; the int8 copies are written when the model loads (<see cref="Int8Weights"/>). Measured
/// against <see cref="Float32"/> in docs/performance.md.
/// </summary>
public enum LocalEmbeddingWeights
{
    /// <summary>
    /// The 30,522-word vocabulary table (half the weights) in 8 bits, one scale per word; the layers in float32. Weights
    /// of 56 MB instead of 90, and vectors within cosine 0.9999 of float32's (only the rows a sentence looks up are
    /// quantised; no layer's arithmetic changes).
    /// </summary>
    Int8Vocabulary,

    /// <summary>
    /// Also every layer's matrix multiplication in 8 bits (ONNX Runtime's dynamic quantisation): weights of 23 MB instead
    /// of 90 and, on a processor with VNNI, a sentence embedded about twice as fast; but similarities move by up to
    /// ±0.03 (vectors within cosine 0.97–0.996 of float32's), so thresholds tuned on float32 (semantic routing,
    /// similarity rules, knowledge scores) may need tuning again.
    /// </summary>
    Int8,

    /// <summary>The float32 weights exactly as the package ships them.</summary>
    Float32,
}
#pragma warning restore CA1720
