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
    /// The 30,522-word vocabulary table (half the weights) in 8 bits, one scale per word; the layers in float32. 35 MB
    /// less memory and the same vectors to four decimals (nothing is quantised but the rows a sentence looks up).
    /// </summary>
    Int8Vocabulary,

    /// <summary>
    /// Also every layer's matrix multiplication in 8 bits (ONNX Runtime's dynamic quantisation): 67 MB less memory and a
    /// sentence embedded about twice as fast, but similarities move by up to ±0.03 (vectors within cosine 0.97–0.996
    /// of the float32 model's), so thresholds tuned on float32 (semantic routing, similarity rules, knowledge scores)
    /// may need tuning again.
    /// </summary>
    Int8,

    /// <summary>The float32 weights exactly as the package ships them.</summary>
    Float32,
}
#pragma warning restore CA1720
