using System.Globalization;
using Microsoft.Data.Sqlite;

namespace Agentry.Bench;

/// <summary>
/// Long-term memory at scale: a SQLite database with <c>users × perUser</c> memories, each with a 384-float vector (random
/// unit vectors: similarity costs the same whatever the vectors say), written straight into a migrated database so a
/// million rows take a minute, not a million API calls.
/// </summary>
public static class MemoryRecall
{
    public const string Model = "all-MiniLM-L6-v2";
    public const int Dimensions = 384;

    public static string User(int index) => $"bench-user-{index}";

    public static void Fill(string database, int users, int perUser)
    {
        using var connection = new SqliteConnection($"Data Source={database}");
        connection.Open();
        using (var pragma = connection.CreateCommand())
        {
            pragma.CommandText = "PRAGMA journal_mode=WAL; PRAGMA synchronous=OFF;";
            pragma.ExecuteNonQuery();
        }
        var random = new Random(17);
        var vector = new float[Dimensions];
        var start = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
        for (var u = 0; u < users; u++)
        {
            using var transaction = connection.BeginTransaction();
            using var memory = connection.CreateCommand();
            memory.Transaction = transaction;
            memory.CommandText = "INSERT INTO memories (id, user_id, text, author, created_at) VALUES ($id, $user, $text, 'agent', $at)";
            var (id, user, text, at) = (memory.Parameters.Add("$id", SqliteType.Text), memory.Parameters.Add("$user", SqliteType.Text),
                memory.Parameters.Add("$text", SqliteType.Text), memory.Parameters.Add("$at", SqliteType.Text));
            using var embedding = connection.CreateCommand();
            embedding.Transaction = transaction;
            embedding.CommandText = "INSERT INTO embeddings (collection, model, id, dimensions, vector, created_at) VALUES ($collection, $model, $id, $dimensions, $vector, $at)";
            var (collection, model, vectorId, dimensions, bytes, vectorAt) = (embedding.Parameters.Add("$collection", SqliteType.Text),
                embedding.Parameters.Add("$model", SqliteType.Text), embedding.Parameters.Add("$id", SqliteType.Text), embedding.Parameters.Add("$dimensions", SqliteType.Integer),
                embedding.Parameters.Add("$vector", SqliteType.Blob), embedding.Parameters.Add("$at", SqliteType.Text));
            user.Value = User(u);
            collection.Value = $"memory:{User(u)}";
            model.Value = Model;
            dimensions.Value = Dimensions;
            for (var i = 0; i < perUser; i++)
            {
                var memoryId = $"mem_bench{u:D4}{i:D7}";
                var when = start.AddSeconds(i).ToString("yyyy-MM-dd HH:mm:ss.FFFFFFFzzz", CultureInfo.InvariantCulture);
                (id.Value, text.Value, at.Value) = (memoryId, $"Fact {i} about {User(u)}: prefers option {random.Next(1000)} for topic {random.Next(500)}.", when);
                memory.ExecuteNonQuery();
                for (var d = 0; d < Dimensions; d++) vector[d] = (float)(random.NextDouble() * 2 - 1);
                (vectorId.Value, bytes.Value, vectorAt.Value) = (memoryId, System.Runtime.InteropServices.MemoryMarshal.AsBytes(vector.AsSpan()).ToArray(), when);
                embedding.ExecuteNonQuery();
            }
            transaction.Commit();
        }
    }
}
