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
}
