using Microsoft.Extensions.AI;

namespace Agentry.Memory;

/// <summary>
/// One vector in a collection (for example <c>conversation:{id}</c>: one per message). Stored portably as little-endian
/// float32 bytes, so the same table works on SQLite and on PostgreSQL without an extension; searched in process.
/// </summary>
public sealed class StoredEmbedding
{
    public required string Collection { get; set; }
    public required string Id { get; set; }
    /// <summary>The embedding model that made the vector: vectors of different models are never compared.</summary>
    public required string Model { get; set; }
    public int Dimensions { get; set; }
    public required byte[] Vector { get; set; }
    public DateTimeOffset CreatedAt { get; set; }

    /// <summary>The row for <paramref name="vector"/>, as little-endian float32 bytes.</summary>
    public static StoredEmbedding Of(string collection, string id, string model, ReadOnlySpan<float> vector, DateTimeOffset createdAt) => new()
    {
        Collection = collection, Id = id, Model = model, Dimensions = vector.Length, CreatedAt = createdAt,
        Vector = System.Runtime.InteropServices.MemoryMarshal.AsBytes(vector).ToArray(),
    };

    /// <summary>The model name vectors of <paramref name="generator"/> are stored under (vectors of different models are never compared).</summary>
    public static string ModelOf(IEmbeddingGenerator<string, Embedding<float>> generator) =>
        generator.GetService<EmbeddingGeneratorMetadata>()?.DefaultModelId ?? "default";
}
