using Agentry.Models;
using Microsoft.Extensions.DependencyInjection;
using Onnx;

namespace Agentry.Tests.Models;

/// <summary>
/// The int8 copies of the local embedding model: the vocabulary (or every large weight) is 8-bit in the graph ONNX
/// Runtime loads; with the vocabulary alone a text's vector is within cosine 0.9999 of float32's, with every layer it
/// stays close, does not depend on the texts embedded beside it, and ranks passages as float32 does — also across
/// the two, since all store vectors under one model id.
/// </summary>
[Trait("Database", "any")] // no database: the model alone, and settings read at start
public sealed class Int8WeightsTests
{
    static readonly string[] Passages =
    [
        "To reset your password, open Settings, choose Security and press 'Reset password'; a link arrives by email.",
        "Refunds are paid to the original card within 5 business days once the returned item reaches our warehouse.",
        "Our support desk is open Monday to Friday from 8:00 to 18:00 and on Saturdays from 9:00 to 13:00.",
        "A duplicate charge on your statement is usually a pending authorisation that disappears within three days.",
        "Shipping to Canada takes 4 to 7 business days; customs duties are collected by the courier on delivery.",
        "You can export every invoice as a PDF from the Billing page, one file per month.",
    ];

    static readonly (string Question, int Passage)[] Questions =
    [
        ("I forgot my login secret, how do I get a new one?", 0),
        ("When will I get my money back after sending the item back?", 1),
        ("Are you open on weekends?", 2),
        ("Why was I billed twice this month?", 3),
        ("How long does delivery to Toronto take?", 4),
        ("Where can I download my receipts?", 5),
    ];

    [Fact]
    public void The_vocabulary_alone_or_every_large_weight_is_stored_in_eight_bits_and_only_the_token_states_are_output()
    {
        using var float32Model = MiniLMEncoder.OpenFloat32Model();
        var floatBytes = float32Model.Length;
        var vocabularyOnly = Int8Weights.Quantize(float32Model, matrices: false);
        var vocabularyModel = ModelProto.Parser.ParseFrom(vocabularyOnly);
        Assert.InRange(vocabularyOnly.Length, floatBytes * 55 / 100, floatBytes * 65 / 100); // 47 of 90 MB down to a quarter
        Assert.Equal(48, vocabularyModel.Graph.Node.Count(n => n.OpType == "MatMul")); // the layers untouched
        Assert.DoesNotContain(vocabularyModel.Graph.Node, n => n.OpType == "DynamicQuantizeMatMul");
        Assert.Equal(TensorProto.Types.DataType.Int8, (TensorProto.Types.DataType)vocabularyModel.Graph.Initializer.Single(i => i.Name == "embeddings.word_embeddings.weight_int8_rows").DataType);
        Assert.DoesNotContain(vocabularyModel.Graph.Initializer, i => i.Name == "embeddings.word_embeddings.weight");

        using var again = MiniLMEncoder.OpenFloat32Model();
        var int8 = Int8Weights.Quantize(again, matrices: true);
        var model = ModelProto.Parser.ParseFrom(int8);
        Assert.InRange(int8.Length, floatBytes / 5, floatBytes * 3 / 10); // about a quarter of 90 MB
        var weights = model.Graph.Initializer.ToDictionary(i => i.Name);
        Assert.DoesNotContain(model.Graph.Node, n => n.OpType == "MatMul" && weights.TryGetValue(n.Input[1], out var w) && w.Dims.Count == 2);
        Assert.Equal(36, model.Graph.Node.Count(n => n.OpType == "DynamicQuantizeMatMul")); // 6 layers × (Q, K, V, output, 2 feed-forward)
        var floatWeights = model.Graph.Initializer.Where(i => i.DataType == (int)TensorProto.Types.DataType.Float).Sum(i => (long)i.RawData.Length);
        Assert.True(floatWeights < 2_000_000, $"{floatWeights} bytes of float32 weights left");
        Assert.Equal(TensorProto.Types.DataType.Int8, (TensorProto.Types.DataType)weights["embeddings.word_embeddings.weight_int8_rows"].DataType);
        // Every new name is new: as many distinct node and initializer names as there are nodes and initializers.
        Assert.Equal(model.Graph.Node.Count, model.Graph.Node.Select(n => n.Name).Distinct().Count());
        Assert.Equal(model.Graph.Initializer.Count, model.Graph.Initializer.Select(i => i.Name).Distinct().Count());
        Assert.Single(model.Graph.Output);
        Assert.Contains(model.OpsetImport, o => o.Domain == "com.microsoft");
    }

    [Fact]
    public async Task With_the_vocabulary_in_eight_bits_the_vectors_are_the_float32_models_to_four_decimals()
    {
        using var vocabulary = new LocalEmbeddingGenerator(LocalEmbeddingWeights.Int8Vocabulary);
        using var float32 = new LocalEmbeddingGenerator(LocalEmbeddingWeights.Float32);
        string[] texts = [.. Passages, .. Questions.Select(q => q.Question), "two", "hi", "Ich möchte mein Konto löschen"];
        var quantised = await vocabulary.GenerateAsync(texts);
        var exact = await float32.GenerateAsync(texts);
        for (var i = 0; i < texts.Length; i++)
        {
            var similarity = Cosine(quantised[i].Vector.Span, exact[i].Vector.Span);
            Assert.True(similarity > 0.9999, $"cosine {similarity:F6} between the int8-vocabulary and float32 vectors of '{texts[i]}'");
        }
    }

    [Fact]
    public async Task Int8_vectors_stay_close_to_float32_rank_passages_alike_and_do_not_depend_on_their_batch()
    {
        using var int8 = new LocalEmbeddingGenerator(LocalEmbeddingWeights.Int8);
        using var float32 = new LocalEmbeddingGenerator(LocalEmbeddingWeights.Float32);
        string[] texts = [.. Passages, .. Questions.Select(q => q.Question), "hi", "Ich möchte mein Konto löschen"];

        var quantised = await int8.GenerateAsync(texts);
        var exact = await float32.GenerateAsync(texts);
        for (var i = 0; i < texts.Length; i++)
        {
            Assert.Equal(1, Norm(quantised[i].Vector.Span), 3);
            var similarity = Cosine(quantised[i].Vector.Span, exact[i].Vector.Span);
            Assert.True(similarity > 0.97, $"cosine {similarity:F4} between int8 and float32 for '{texts[i]}'");
        }

        // The same text alone and in a batch of others: the same vector (int8 runs quantise per run, so texts run alone).
        for (var i = 0; i < texts.Length; i++)
            Assert.Equal(quantised[i].Vector.ToArray(), (await int8.GenerateAsync([texts[i]]))[0].Vector.ToArray());

        // Each question's passage ranks first with int8 vectors, with float32 ones, and with int8 questions over passages
        // stored by the float32 model (an installation that changes the setting keeps its index).
        var passagesInt8 = quantised.Take(Passages.Length).ToArray();
        var passagesFloat32 = exact.Take(Passages.Length).ToArray();
        for (var q = 0; q < Questions.Length; q++)
        {
            var questionInt8 = quantised[Passages.Length + q].Vector;
            var questionFloat32 = exact[Passages.Length + q].Vector;
            Assert.Equal(Questions[q].Passage, Best(questionInt8, passagesInt8));
            Assert.Equal(Questions[q].Passage, Best(questionFloat32, passagesFloat32));
            Assert.Equal(Questions[q].Passage, Best(questionInt8, passagesFloat32));
        }
    }

    /// <summary>x86 processors without VNNI get 7-bit layer weights (their 8-bit kernels could overflow): still close, still ranking alike.</summary>
    [Fact]
    public async Task Seven_bit_layer_weights_stay_close_to_float32_and_rank_passages_alike()
    {
        using var float32Model = MiniLMEncoder.OpenFloat32Model();
        var sevenBit = Int8Weights.Quantize(float32Model, matrices: true, matrixWeightLimit: 63);
        var largest = ModelProto.Parser.ParseFrom(sevenBit).Graph.Initializer.Where(i => i.Name.EndsWith("_int8_columns", StringComparison.Ordinal))
            .Max(i => i.RawData.Span.ToArray().Max(b => Math.Abs((sbyte)b)));
        Assert.Equal(63, largest);

        using var encoder = MiniLMEncoder.FromModel(sevenBit, quantisedMatrices: true);
        using var float32 = new LocalEmbeddingGenerator(LocalEmbeddingWeights.Float32);
        string[] texts = [.. Passages, .. Questions.Select(q => q.Question)];
        var quantised = encoder.Encode(texts, CancellationToken.None);
        var exact = await float32.GenerateAsync(texts);
        for (var i = 0; i < texts.Length; i++)
        {
            var similarity = Cosine(quantised[i], exact[i].Vector.Span);
            Assert.True(similarity > 0.97, $"cosine {similarity:F4} between 7-bit and float32 for '{texts[i]}'");
        }
        for (var q = 0; q < Questions.Length; q++)
            Assert.Equal(Questions[q].Passage, Enumerable.Range(0, Passages.Length).MaxBy(p => Cosine(quantised[Passages.Length + q], quantised[p])));
        Assert.Empty(encoder.Encode([], CancellationToken.None));
    }

    [Fact]
    public async Task The_setting_chooses_the_weights_a_host_embeds_with()
    {
        using var float32 = new LocalEmbeddingGenerator(LocalEmbeddingWeights.Float32);
        using var int8 = new LocalEmbeddingGenerator(LocalEmbeddingWeights.Int8);
        const string text = "Which weights embedded this sentence?";
        using var vocabulary = new LocalEmbeddingGenerator(LocalEmbeddingWeights.Int8Vocabulary);
        var expectedFloat32 = (await float32.GenerateAsync([text]))[0].Vector.ToArray();
        var expectedInt8 = (await int8.GenerateAsync([text]))[0].Vector.ToArray();
        var expectedVocabulary = (await vocabulary.GenerateAsync([text]))[0].Vector.ToArray();
        Assert.NotEqual(expectedFloat32, expectedInt8);
        Assert.NotEqual(expectedFloat32, expectedVocabulary);

        foreach (var (setting, expected) in new[] { ((string?)null, expectedVocabulary), ("Float32", expectedFloat32), ("int8", expectedInt8) })
        {
            await using var app = new AgentryApp(settings: setting is null ? [] : new() { ["Models:LocalEmbeddingWeights"] = setting });
            var generator = app.Services.GetRequiredService<Microsoft.Extensions.AI.IEmbeddingGenerator<string, Microsoft.Extensions.AI.Embedding<float>>>();
            Assert.Equal(expected, (await generator.GenerateAsync([text]))[0].Vector.ToArray());
        }
    }

    static int Best(ReadOnlyMemory<float> question, Microsoft.Extensions.AI.Embedding<float>[] passages) =>
        Enumerable.Range(0, passages.Length).MaxBy(p => Cosine(question.Span, passages[p].Vector.Span));

    static double Cosine(ReadOnlySpan<float> a, ReadOnlySpan<float> b) => System.Numerics.Tensors.TensorPrimitives.CosineSimilarity(a, b);

    static double Norm(ReadOnlySpan<float> a) => System.Numerics.Tensors.TensorPrimitives.Norm(a);
}
