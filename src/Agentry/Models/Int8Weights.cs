using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using Google.Protobuf;
using Onnx;

namespace Agentry.Models;

/// <summary>
/// Writes an 8-bit copy of an ONNX model's large float32 weights (<see cref="LocalEmbeddingWeights"/>). The package ships
/// only float32 weights, nothing may be downloaded, and ONNX Runtime's own quantiser is a Python tool, so the copy is
/// made here, in memory, each time the model loads (a few hundred milliseconds):
/// <list type="bullet">
/// <item>a large embedding table read by <c>Gather</c> (the 30,522-word vocabulary, 47 of the 90 MB) is stored as int8
/// with one scale per row, and only the rows a sentence gathers are turned back into floats — no layer's arithmetic
/// changes, so the vectors stay within cosine 0.9999 of the float32 model's;</item>
/// <item>with <c>matrices</c>, also every <c>MatMul</c> by a constant 2-D weight becomes ONNX Runtime's
/// <c>DynamicQuantizeMatMul</c>, as its dynamic quantisation does: the weight as int8 with one scale per output column
/// (symmetric), each call's input quantised to 8 bits with one scale — faster, and less exact.</item>
/// </list>
/// Only the first graph output is kept (the token states the sentence vector is pooled from), so nodes that only fed
/// the others (BERT's pooler) are dropped by ONNX Runtime.
/// </summary>
public static class Int8Weights
{
    /// <summary>Weight matrices with fewer values than this stay float32: too small to matter, and cheaper unquantised.</summary>
    const long SmallestQuantised = 16_384;

    /// <summary>An embedding table read by <c>Gather</c> is quantised from this many rows (a vocabulary, not a handful of positions or segments).</summary>
    const long SmallestVocabulary = 4_096;

    /// <summary>
    /// The largest magnitude a matrix weight is stored as. ONNX Runtime multiplies unsigned 8-bit inputs by signed 8-bit
    /// weights; x86 processors without VNNI do it with an instruction that adds pairs of products into 16 bits, and
    /// 255 × 127 × 2 overflows that, so there the weights keep 7 bits (what its quantiser's <c>reduce_range</c> does).
    /// </summary>
    public static int MatrixWeightLimit { get; } = X86Base.IsSupported && !AvxVnni.IsSupported ? 63 : 127;

    public static byte[] Quantize(Stream float32Model, bool matrices) => Quantize(float32Model, matrices, MatrixWeightLimit);

    /// <summary>As <see cref="Quantize(Stream, bool)"/>, with the matrices' weights limited to ±<paramref name="matrixWeightLimit"/>.</summary>
    public static byte[] Quantize(Stream float32Model, bool matrices, int matrixWeightLimit)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(matrixWeightLimit, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(matrixWeightLimit, 127);
        var model = ModelProto.Parser.ParseFrom(float32Model);
        var rewrite = new Rewrite(model.Graph, matrixWeightLimit);
        var nodes = new List<NodeProto>(model.Graph.Node.Count);
        foreach (var node in model.Graph.Node)
        {
            if (matrices && node is { OpType: "MatMul", Domain: "" } && rewrite.IsFloatMatrix(node.Input[1], out var matrix))
                nodes.Add(rewrite.QuantizedMatMul(node, matrix));
            else if (node is { OpType: "Gather", Domain: "" } && rewrite.IsFloatMatrix(node.Input[0], out var table) && table.Dims[0] >= SmallestVocabulary && GatherAxis(node) == 0)
                nodes.AddRange(rewrite.QuantizedGather(node, table));
            else
                nodes.Add(node);
        }
        model.Graph.Node.Clear();
        model.Graph.Node.AddRange(nodes);
        while (model.Graph.Output.Count > 1) model.Graph.Output.RemoveAt(model.Graph.Output.Count - 1);
        rewrite.RemoveUnreadFloatWeights();
        if (!model.OpsetImport.Any(o => o.Domain == "com.microsoft"))
            model.OpsetImport.Add(new OperatorSetIdProto { Domain = "com.microsoft", Version = 1 });
        return model.ToByteArray();
    }

    static long GatherAxis(NodeProto node) => node.Attribute.FirstOrDefault(a => a.Name == "axis")?.I ?? 0;

    sealed class Rewrite(GraphProto graph, int matrixWeightLimit)
    {
        readonly Dictionary<string, TensorProto> _weights = graph.Initializer.ToDictionary(i => i.Name, StringComparer.Ordinal);
        // Every name in the graph, so no new tensor or node takes one that is already there.
        readonly HashSet<string> _names = graph.Node.SelectMany(n => n.Input.Concat(n.Output).Append(n.Name))
            .Concat(graph.Initializer.Select(i => i.Name)).Concat(graph.Input.Select(i => i.Name)).Concat(graph.Output.Select(o => o.Name))
            .ToHashSet(StringComparer.Ordinal);
        // A float32 weight → its int8 copy and scales; by columns for a matrix, by rows for a table (scales of other shapes).
        readonly Dictionary<string, (string Weight, string Scale, string Zero)> _byColumns = new(StringComparer.Ordinal);
        readonly Dictionary<string, (string Weight, string Scale)> _byRows = new(StringComparer.Ordinal);

        public bool IsFloatMatrix(string name, out TensorProto matrix) =>
            _weights.TryGetValue(name, out matrix!) && matrix.DataType == (int)TensorProto.Types.DataType.Float && matrix.Dims.Count == 2 &&
            matrix.Dims[0] * matrix.Dims[1] >= SmallestQuantised && (matrix.RawData.Length > 0 || matrix.FloatData.Count > 0);

        /// <summary><c>Y = X·W</c> as <c>DynamicQuantizeMatMul(X, W₈, scale per column, zero point 0)</c>.</summary>
        public NodeProto QuantizedMatMul(NodeProto matMul, TensorProto weight)
        {
            if (!_byColumns.TryGetValue(weight.Name, out var copy))
            {
                int rows = (int)weight.Dims[0], columns = (int)weight.Dims[1];
                var values = Values(weight);
                var scales = new float[columns];
                for (var r = 0; r < rows; r++)
                    for (var c = 0; c < columns; c++)
                        scales[c] = Math.Max(scales[c], Math.Abs(values[(r * columns) + c]));
                for (var c = 0; c < columns; c++) scales[c] = Scale(scales[c], matrixWeightLimit);
                var int8 = new sbyte[values.Length];
                for (var r = 0; r < rows; r++)
                    for (var c = 0; c < columns; c++)
                        int8[(r * columns) + c] = Round(values[(r * columns) + c], scales[c], matrixWeightLimit);
                copy = (NewName(weight.Name + "_int8_columns"), NewName(weight.Name + "_column_scales"), NewName(weight.Name + "_column_zeros"));
                graph.Initializer.Add(Tensor(copy.Weight, TensorProto.Types.DataType.Int8, [rows, columns], MemoryMarshal.AsBytes(int8.AsSpan())));
                graph.Initializer.Add(Tensor(copy.Scale, TensorProto.Types.DataType.Float, [columns], MemoryMarshal.AsBytes(scales.AsSpan())));
                graph.Initializer.Add(Tensor(copy.Zero, TensorProto.Types.DataType.Int8, [columns], new byte[columns]));
                _byColumns[weight.Name] = copy;
            }
            return new NodeProto
            {
                OpType = "DynamicQuantizeMatMul", Domain = "com.microsoft", Name = NewName(matMul.Name + "_int8"),
                Input = { matMul.Input[0], copy.Weight, copy.Scale, copy.Zero }, Output = { matMul.Output },
            };
        }

        /// <summary><c>Y = Gather(T, ids)</c> as <c>Cast(Gather(T₈, ids)) · Gather(scale per row, ids)</c>.</summary>
        public NodeProto[] QuantizedGather(NodeProto gather, TensorProto table)
        {
            if (!_byRows.TryGetValue(table.Name, out var copy))
            {
                int rows = (int)table.Dims[0], columns = (int)table.Dims[1];
                var values = Values(table);
                var scales = new float[rows];
                var int8 = new sbyte[values.Length];
                for (var r = 0; r < rows; r++)
                {
                    var row = values.Slice(r * columns, columns);
                    var largest = 0f;
                    foreach (var value in row) largest = Math.Max(largest, Math.Abs(value));
                    scales[r] = Scale(largest, 127); // a gathered row is scaled back in float32: all 8 bits are safe
                    for (var c = 0; c < columns; c++) int8[(r * columns) + c] = Round(row[c], scales[r], 127);
                }
                copy = (NewName(table.Name + "_int8_rows"), NewName(table.Name + "_row_scales"));
                graph.Initializer.Add(Tensor(copy.Weight, TensorProto.Types.DataType.Int8, [rows, columns], MemoryMarshal.AsBytes(int8.AsSpan())));
                graph.Initializer.Add(Tensor(copy.Scale, TensorProto.Types.DataType.Float, [rows, 1], MemoryMarshal.AsBytes(scales.AsSpan())));
                _byRows[table.Name] = copy;
            }

            var ids = gather.Input[1];
            string rowsInt8 = NewName(gather.Output[0] + "_int8"), rowsFloat = NewName(gather.Output[0] + "_unscaled"), rowScales = NewName(gather.Output[0] + "_scales");
            return
            [
                new NodeProto { OpType = "Gather", Name = NewName(gather.Name + "_int8"), Input = { copy.Weight, ids }, Output = { rowsInt8 } },
                new NodeProto
                {
                    OpType = "Cast", Name = NewName(gather.Name + "_float"), Input = { rowsInt8 }, Output = { rowsFloat },
                    Attribute = { new AttributeProto { Name = "to", Type = AttributeProto.Types.AttributeType.Int, I = (long)TensorProto.Types.DataType.Float } },
                },
                new NodeProto { OpType = "Gather", Name = NewName(gather.Name + "_scales"), Input = { copy.Scale, ids }, Output = { rowScales } },
                new NodeProto { OpType = "Mul", Name = NewName(gather.Name + "_scaled"), Input = { rowsFloat, rowScales }, Output = { gather.Output[0] } },
            ];
        }

        /// <summary>
        /// Drops the float32 weights that were copied and that nothing reads any more (a node that was not rewritten, or the
        /// graph's output, keeps its weight), with the graph inputs that mirror them (older IR versions list initializers there).
        /// </summary>
        public void RemoveUnreadFloatWeights()
        {
            var read = graph.Node.SelectMany(n => n.Input).Concat(graph.Output.Select(o => o.Name)).ToHashSet(StringComparer.Ordinal);
            var unread = _byColumns.Keys.Concat(_byRows.Keys).Where(name => !read.Contains(name)).ToHashSet(StringComparer.Ordinal);
            foreach (var name in unread) graph.Initializer.Remove(_weights[name]);
            foreach (var input in graph.Input.Where(i => unread.Contains(i.Name)).ToList()) graph.Input.Remove(input);
        }

        string NewName(string wanted)
        {
            var name = wanted;
            for (var n = 2; !_names.Add(name); n++) name = $"{wanted}_{n}";
            return name;
        }
    }

    /// <summary>The tensor's values where they lie (raw little-endian bytes, as exporters write them), without a copy.</summary>
    static ReadOnlySpan<float> Values(TensorProto tensor) =>
        tensor.RawData.Length > 0 ? MemoryMarshal.Cast<byte, float>(tensor.RawData.Span) : tensor.FloatData.ToArray();

    /// <summary>Symmetric: the largest magnitude maps to ±limit.</summary>
    static float Scale(float largestMagnitude, int limit) => largestMagnitude == 0 ? 1 : largestMagnitude / limit;

    static sbyte Round(float value, float scale, int limit) => (sbyte)Math.Clamp((int)MathF.Round(value / scale), -limit, limit);

    static TensorProto Tensor(string name, TensorProto.Types.DataType type, long[] dimensions, ReadOnlySpan<byte> data)
    {
        var tensor = new TensorProto { Name = name, DataType = (int)type, RawData = ByteString.CopyFrom(data) };
        tensor.Dims.Add(dimensions);
        return tensor;
    }
}
