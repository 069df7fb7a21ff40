using System.Globalization;
using Microsoft.Data.Sqlite;

namespace Agentry.Bench;

/// <summary>
/// A knowledge base of <c>documents × 100</c> generated passages (about 150 words each, drawn from a 30,000-word vocabulary
/// with a Zipf distribution, so a word's posting list is as long as in real text, and the question's words sit among
/// the common ones), each with a random unit vector, written straight into a migrated database. The passages that
/// answer the benchmark's question are a real document uploaded through the API, so its vectors come from the model.
/// </summary>
public static class KnowledgeAtScale
{
    public const string KnowledgeBase = "bench";
    public const string Question = "How do I reset the router after a power cut?";
    const int PerDocument = 100;
    const int Words = 150;

    /// <summary>The answering document, uploaded through the API.</summary>
    public const string Answer = """
        # Resetting the router

        After a power cut the router restarts on its own. If the light stays red, hold the reset button for ten seconds
        until it blinks, then wait two minutes while it reconnects. Your wifi name and password come back as printed on
        the card under the router.
        """;

    public static void Fill(string database, int documents)
    {
        var vocabulary = Vocabulary();
        // Zipf: the word of rank r is drawn with weight 1/r; the question's words are placed among the common ones.
        var cumulative = new double[vocabulary.Length];
        var total = 0.0;
        for (var r = 0; r < vocabulary.Length; r++) cumulative[r] = total += 1.0 / (r + 1);
        var random = new Random(21);
        string Draw()
        {
            var i = Array.BinarySearch(cumulative, random.NextDouble() * total);
            return vocabulary[i < 0 ? ~i : i];
        }

        using var connection = new SqliteConnection($"Data Source={database}");
        connection.Open();
        using (var pragma = connection.CreateCommand())
        {
            pragma.CommandText = "PRAGMA journal_mode=WAL; PRAGMA synchronous=OFF;";
            pragma.ExecuteNonQuery();
        }
        var now = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero).ToString("yyyy-MM-dd HH:mm:ss.FFFFFFFzzz", CultureInfo.InvariantCulture);
        var vector = new float[MemoryRecall.Dimensions];
        var chunkId = 0L;
        var text = new System.Text.StringBuilder();
        for (var d = 0; d < documents; d++)
        {
            using var transaction = connection.BeginTransaction();
            var documentId = $"doc_bench{d:D23}";
            using (var document = connection.CreateCommand())
            {
                document.Transaction = transaction;
                document.CommandText = """
                    INSERT INTO knowledge_documents (id, knowledge_base, name, format, content_hash, text, bytes, version, indexed_version, status,
                        chunk_count, embedding_model, source, created_at, updated_at, indexed_at)
                    VALUES ($id, $kb, $name, 'markdown', $hash, '', 0, 1, 1, 'indexed', $chunks, $model, 'api', $at, $at, $at)
                    """;
                document.Parameters.AddWithValue("$id", documentId);
                document.Parameters.AddWithValue("$kb", KnowledgeBase);
                document.Parameters.AddWithValue("$name", $"generated/{d:D5}.md");
                document.Parameters.AddWithValue("$hash", $"{d:x64}");
                document.Parameters.AddWithValue("$chunks", PerDocument);
                document.Parameters.AddWithValue("$model", MemoryRecall.Model);
                document.Parameters.AddWithValue("$at", now);
                document.ExecuteNonQuery();
            }
            using var chunk = connection.CreateCommand();
            chunk.Transaction = transaction;
            chunk.CommandText = """
                INSERT INTO knowledge_chunks (id, document_id, knowledge_base, version, ordinal, section_path, text, char_start, char_end, tokens)
                VALUES ($id, $document, $kb, 1, $ordinal, $section, $text, 0, $end, 200)
                """;
            var (id, ordinal, section, body, end) = (chunk.Parameters.Add("$id", SqliteType.Integer), chunk.Parameters.Add("$ordinal", SqliteType.Integer),
                chunk.Parameters.Add("$section", SqliteType.Text), chunk.Parameters.Add("$text", SqliteType.Text), chunk.Parameters.Add("$end", SqliteType.Integer));
            chunk.Parameters.AddWithValue("$document", documentId);
            chunk.Parameters.AddWithValue("$kb", KnowledgeBase);
            using var embedding = connection.CreateCommand();
            embedding.Transaction = transaction;
            embedding.CommandText = "INSERT INTO embeddings (collection, model, id, dimensions, vector, created_at) VALUES ($collection, $model, $id, $dimensions, $vector, $at)";
            embedding.Parameters.AddWithValue("$collection", $"kb:{KnowledgeBase}");
            embedding.Parameters.AddWithValue("$model", MemoryRecall.Model);
            embedding.Parameters.AddWithValue("$dimensions", MemoryRecall.Dimensions);
            embedding.Parameters.AddWithValue("$at", now);
            var (vectorId, bytes) = (embedding.Parameters.Add("$id", SqliteType.Text), embedding.Parameters.Add("$vector", SqliteType.Blob));
            for (var c = 0; c < PerDocument; c++)
            {
                text.Clear();
                for (var w = 0; w < Words; w++) text.Append(w == 0 ? "" : w % 12 == 0 ? ". " : " ").Append(Draw());
                (id.Value, ordinal.Value, section.Value, body.Value, end.Value) = (++chunkId, c, $"{Draw()} {Draw()} › {Draw()}", text.ToString(), text.Length);
                chunk.ExecuteNonQuery();
                for (var i = 0; i < vector.Length; i++) vector[i] = (float)(random.NextDouble() * 2 - 1);
                (vectorId.Value, bytes.Value) = (chunkId.ToString(CultureInfo.InvariantCulture), System.Runtime.InteropServices.MemoryMarshal.AsBytes(vector.AsSpan()).ToArray());
                embedding.ExecuteNonQuery();
            }
            transaction.Commit();
        }
    }

    /// <summary>30,000 made-up words from syllables, with the question's content words among the common ones.</summary>
    static string[] Vocabulary()
    {
        string[] syllables = ["ka", "lo", "mi", "ret", "sun", "do", "pra", "vel", "ni", "tor", "bes", "qua", "fen", "ul", "zo", "gri", "hap", "ost", "wen", "cy"];
        var words = new List<string>(30_000);
        var seen = new HashSet<string>();
        var random = new Random(5);
        while (words.Count < 30_000)
        {
            var word = string.Concat(Enumerable.Range(0, random.Next(2, 5)).Select(_ => syllables[random.Next(syllables.Length)]));
            if (seen.Add(word)) words.Add(word);
        }
        // The question's words at ranks 40, 120, 400 and 1,500: each in hundreds to tens of thousands of passages.
        (words[40], words[120], words[400], words[1500]) = ("router", "power", "reset", "cut");
        return [.. words];
    }
}
