using System.Runtime.InteropServices;
using Google.Protobuf;
using Onnx;

namespace Agentry.Models;

/// <summary>
/// Writes an 8-bit copy of an ONNX model's large float32 weights (<see cref="LocalEmbeddingWeights"/>). The package ships
/// only float32 weights, nothing may be downloaded, and ONNX Runtime's own quantiser is a Python tool, so the copy is
/// made here, in memory, each time the model loads (a few hundred milliseconds):
/// <list type="bullet">
/// <item>a large embedding table read by <c>Gather</c> (the 30,522-word vocabulary, 47 of the 90 MB) is stored as int8
/// with one scale per row, and only the rows a sentence gathers are turned back into floats — nothing a layer computes
/// changes, so the vectors are the float32 model's to four decimals;</item>
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

    public static byte[] Quantize(Stream float32Model, bool matrices)
    {
        var model = ModelProto.Parser.ParseFrom(float32Model);
        var graph = model.Graph;
        var weights = graph.Initializer.ToDictionary(i => i.Name, StringComparer.Ordinal);
        var quantised = new Dictionary<string, string>(StringComparer.Ordinal); // float32 weight → its int8 copy's name
        var nodes = new List<NodeProto>(graph.Node.Count);

        foreach (var node in graph.Node)
        {
            if (matrices && node is { OpType: "MatMul", Domain: "" } && IsFloatMatrix(weights, node.Input[1], out var matrix))
                nodes.Add(QuantizedMatMul(node, matrix, graph, quantised));
            else if (node is { OpType: "Gather", Domain: "" } && IsFloatMatrix(weights, node.Input[0], out var table) && table.Dims[0] >= SmallestVocabulary && GatherAxis(node) == 0)
                nodes.AddRange(QuantizedGather(node, table, graph, quantised));
            else
                nodes.Add(node);
        }

        graph.Node.Clear();
        graph.Node.AddRange(nodes);
        // A float32 weight still read by a node that was not rewritten stays; the others are gone.
        var stillRead = nodes.SelectMany(n => n.Input).ToHashSet(StringComparer.Ordinal);
        foreach (var name in quantised.Keys.Where(name => !stillRead.Contains(name)))
            graph.Initializer.Remove(weights[name]);
        while (graph.Output.Count > 1) graph.Output.RemoveAt(graph.Output.Count - 1);
        if (!model.OpsetImport.Any(o => o.Domain == "com.microsoft"))
            model.OpsetImport.Add(new OperatorSetIdProto { Domain = "com.microsoft", Version = 1 });
        return model.ToByteArray();
    }

    static bool IsFloatMatrix(Dictionary<string, TensorProto> weights, string name, out TensorProto matrix) =>
        weights.TryGetValue(name, out matrix!) && matrix.DataType == (int)TensorProto.Types.DataType.Float && matrix.Dims.Count == 2 &&
        matrix.Dims[0] * matrix.Dims[1] >= SmallestQuantised && (matrix.RawData.Length > 0 || matrix.FloatData.Count > 0);

    static long GatherAxis(NodeProto node) => node.Attribute.FirstOrDefault(a => a.Name == "axis")?.I ?? 0;

    /// <summary><c>Y = X·W</c> as <c>DynamicQuantizeMatMul(X, W₈, scale per column, zero point 0)</c>.</summary>
    static NodeProto QuantizedMatMul(NodeProto matMul, TensorProto weight, GraphProto graph, Dictionary<string, string> quantised)
    {
        var name = weight.Name + "_int8";
        if (quantised.TryAdd(weight.Name, name))
        {
            int rows = (int)weight.Dims[0], columns = (int)weight.Dims[1];
            var values = Values(weight);
            var scales = new float[columns];
            for (var r = 0; r < rows; r++)
                for (var c = 0; c < columns; c++)
                    scales[c] = Math.Max(scales[c], Math.Abs(values[(r * columns) + c]));
            for (var c = 0; c < columns; c++) scales[c] = Scale(scales[c]);
            var int8 = new sbyte[values.Length];
            for (var r = 0; r < rows; r++)
                for (var c = 0; c < columns; c++)
                    int8[(r * columns) + c] = Round(values[(r * columns) + c], scales[c]);
            graph.Initializer.Add(Tensor(name, TensorProto.Types.DataType.Int8, [rows, columns], MemoryMarshal.AsBytes(int8.AsSpan())));
            graph.Initializer.Add(Tensor(name + "_scale", TensorProto.Types.DataType.Float, [columns], MemoryMarshal.AsBytes(scales.AsSpan())));
            graph.Initializer.Add(Tensor(name + "_zero", TensorProto.Types.DataType.Int8, [columns], new byte[columns]));
        }

        var node = new NodeProto { OpType = "DynamicQuantizeMatMul", Domain = "com.microsoft", Name = matMul.Name + "_int8" };
        node.Input.Add([matMul.Input[0], name, name + "_scale", name + "_zero"]);
        node.Output.Add(matMul.Output);
        return node;
    }

    /// <summary><c>Y = Gather(T, ids)</c> as <c>Cast(Gather(T₈, ids)) · Gather(scale per row, ids)</c>.</summary>
    static NodeProto[] QuantizedGather(NodeProto gather, TensorProto table, GraphProto graph, Dictionary<string, string> quantised)
    {
        var name = table.Name + "_int8";
        if (quantised.TryAdd(table.Name, name))
        {
            int rows = (int)table.Dims[0], columns = (int)table.Dims[1];
            var values = Values(table);
            var scales = new float[rows];
            var int8 = new sbyte[values.Length];
            for (var r = 0; r < rows; r++)
            {
                var row = values.AsSpan(r * columns, columns);
                var largest = 0f;
                foreach (var value in row) largest = Math.Max(largest, Math.Abs(value));
                scales[r] = Scale(largest);
                for (var c = 0; c < columns; c++) int8[(r * columns) + c] = Round(row[c], scales[r]);
            }
            graph.Initializer.Add(Tensor(name, TensorProto.Types.DataType.Int8, [rows, columns], MemoryMarshal.AsBytes(int8.AsSpan())));
            graph.Initializer.Add(Tensor(name + "_scale", TensorProto.Types.DataType.Float, [rows, 1], MemoryMarshal.AsBytes(scales.AsSpan())));
        }

        var output = gather.Output[0];
        var ids = gather.Input[1];
        var rowsInt8 = new NodeProto { OpType = "Gather", Name = gather.Name + "_int8", Input = { name, ids }, Output = { output + "_int8" } };
        var rowsFloat = new NodeProto
        {
            OpType = "Cast", Name = gather.Name + "_float", Input = { output + "_int8" }, Output = { output + "_unscaled" },
            Attribute = { new AttributeProto { Name = "to", Type = AttributeProto.Types.AttributeType.Int, I = (long)TensorProto.Types.DataType.Float } },
        };
        var rowScales = new NodeProto { OpType = "Gather", Name = gather.Name + "_scale", Input = { name + "_scale", ids }, Output = { output + "_scale" } };
        var scaled = new NodeProto { OpType = "Mul", Name = gather.Name + "_scaled", Input = { output + "_unscaled", output + "_scale" }, Output = { output } };
        return [rowsInt8, rowsFloat, rowScales, scaled];
    }

    static float[] Values(TensorProto tensor) =>
        tensor.RawData.Length > 0 ? MemoryMarshal.Cast<byte, float>(tensor.RawData.Span).ToArray() : [.. tensor.FloatData];

    /// <summary>Symmetric: the largest magnitude maps to ±127 (−128 unused, so negating never overflows).</summary>
    static float Scale(float largestMagnitude) => largestMagnitude == 0 ? 1 : largestMagnitude / 127f;

    static sbyte Round(float value, float scale) => (sbyte)Math.Clamp((int)MathF.Round(value / scale), -127, 127);

    static TensorProto Tensor(string name, TensorProto.Types.DataType type, long[] dimensions, ReadOnlySpan<byte> data)
    {
        var tensor = new TensorProto { Name = name, DataType = (int)type, RawData = ByteString.CopyFrom(data) };
        tensor.Dims.Add(dimensions);
        return tensor;
    }
}
