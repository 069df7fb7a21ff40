using Agentry.Knowledge;
using Xunit.Abstractions;

namespace Agentry.Tests.Knowledge;

/// <summary>
/// A large collection is searched through one bit per dimension first: it must find what comparing every vector finds,
/// with the same (exact) similarities, on data shaped like text embeddings (topics, and an offset every vector shares).
/// </summary>
public sealed class VectorIndexTests(ITestOutputHelper output)
{
    const int Dimensions = 384;

    [Fact]
    public void Above_the_exact_size_the_bit_prefilter_finds_what_an_exhaustive_search_finds()
    {
        var random = new Random(3);
        var offset = Unit(random, 0.6f); // embeddings share a direction; the bits are taken around the mean
        var topics = Enumerable.Range(0, 300).Select(_ => Unit(random)).ToArray();
        const int count = 30_000;
        var vectors = new float[count * Dimensions];
        var hasVector = new bool[count];
        for (var i = 0; i < count; i++)
        {
            Member(random, topics[i % topics.Length], offset).CopyTo(vectors.AsSpan(i * Dimensions));
            hasVector[i] = i % 997 != 0; // a few passages not embedded yet
        }
        var exact = new VectorIndex(vectors, hasVector, Dimensions, exactUpTo: int.MaxValue);
        var prefiltered = new VectorIndex(vectors, hasVector, Dimensions, exactUpTo: 1_000);
        Assert.True(prefiltered.Bytes > 0 && exact.Bytes == 0);

        int found = 0, wanted = 0, sameFirst = 0;
        const int queries = 200;
        for (var q = 0; q < queries; q++)
        {
            var query = Member(random, topics[random.Next(topics.Length)], offset);
            var truth = exact.Nearest(query, 20);
            var mine = prefiltered.Nearest(query, 20);
            Assert.Equal(20, mine.Count);
            Assert.All(mine, m => Assert.Equal(exact.Similarity(m.Index, query), m.Similarity)); // exact similarities, best first
            Assert.True(mine.Zip(mine.Skip(1)).All(p => p.First.Similarity >= p.Second.Similarity));
            Assert.DoesNotContain(mine, m => !hasVector[m.Index]);
            found += truth.Select(t => t.Index).Intersect(mine.Select(m => m.Index)).Count();
            wanted += truth.Count;
            if (truth[0].Index == mine[0].Index) sameFirst++;
        }
        output.WriteLine($"recall@20 {(double)found / wanted:0.0000}, same first {sameFirst}/{queries}");
        Assert.True((double)found / wanted >= 0.99, $"recall@20 {(double)found / wanted}");
        Assert.Equal(queries, sameFirst);

        // Nothing like a vector of the collection: still the exact best of what the prefilter kept, no error.
        Assert.Equal(5, prefiltered.Nearest(Unit(random), 5).Count);
        Assert.Empty(prefiltered.Nearest(new float[12], 5)); // another model's dimensions
    }

    static float[] Unit(Random random, float scale = 1)
    {
        var v = new float[Dimensions];
        for (var d = 0; d < Dimensions; d++) v[d] = (float)NextGaussian(random);
        KnowledgeSnapshot.Normalize(v);
        for (var d = 0; d < Dimensions; d++) v[d] *= scale;
        return v;
    }

    static float[] Member(Random random, float[] topic, float[] offset)
    {
        var noise = Unit(random, 1.5f); // same topic about 0.4 alike, others about 0.1: as loose as embeddings of related passages
        var v = new float[Dimensions];
        for (var d = 0; d < Dimensions; d++) v[d] = topic[d] + noise[d] + offset[d];
        KnowledgeSnapshot.Normalize(v);
        return v;
    }

    static double NextGaussian(Random random) => Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
}
