using Agentry.Knowledge;
using Microsoft.Data.Sqlite;
using Xunit.Abstractions;

namespace Agentry.Tests.Knowledge;

/// <summary>
/// The in-process word index that replaced the databases' full-text indexes: it must rank as SQLite FTS5's
/// <c>bm25(2.0, 1.0)</c> over a porter/unicode61 table did (checked against a real FTS5 table holding the shipped
/// help-center), and read words as that tokenizer did (stems, accents, headings, nothing read as query syntax).
/// </summary>
public sealed class KnowledgeFullTextTests(ITestOutputHelper output)
{
    static KnowledgePassage Passage(long id, string section, string text) => new(id, "kb", "d", "doc.md", section, text, 0, text.Length, Agentry.Models.Tokens.Count(text));

    [Fact]
    public async Task The_help_center_ranks_as_SQLite_FTS5_ranked_it()
    {
        var folder = Path.Combine(AppContext.BaseDirectory, "agent-definitions", "knowledge", "help-center");
        var passages = new List<KnowledgePassage>();
        foreach (var file in Directory.EnumerateFiles(folder, "*.md", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            var document = DocumentReader.Read(DocumentReader.Markdown, await File.ReadAllBytesAsync(file), 5_000_000);
            foreach (var chunk in KnowledgeChunker.Cut(document, maxTokens: 200, overlapTokens: 30))
                passages.Add(new KnowledgePassage(passages.Count + 1, "help-center", file, Path.GetFileName(file), chunk.SectionPath, chunk.Text, chunk.Start, chunk.End, chunk.Tokens));
        }
        Assert.True(passages.Count > 30, $"{passages.Count} passages");

        await using var sqlite = new SqliteConnection("Data Source=:memory:");
        await sqlite.OpenAsync();
        await using (var create = sqlite.CreateCommand())
        {
            create.CommandText = "CREATE VIRTUAL TABLE fts USING fts5(section_path, text, tokenize='porter unicode61 remove_diacritics 2')";
            await create.ExecuteNonQueryAsync();
        }
        foreach (var p in passages)
        {
            await using var insert = sqlite.CreateCommand();
            insert.CommandText = "INSERT INTO fts(rowid, section_path, text) VALUES ($id, $section, $text)";
            insert.Parameters.AddWithValue("$id", p.ChunkId);
            insert.Parameters.AddWithValue("$section", p.Section);
            insert.Parameters.AddWithValue("$text", p.Text);
            await insert.ExecuteNonQueryAsync();
        }

        var index = KnowledgeFullText.Build(passages);
        int sameFirst = 0, sameFive = 0, questions = 0;
        foreach (var question in HelpCenterQuestions.Answerables.Select(a => a.Question).Concat(HelpCenterQuestions.OffTopic))
        {
            var fts = new List<long>();
            await using (var query = sqlite.CreateCommand())
            {
                query.CommandText = "SELECT rowid FROM fts WHERE fts MATCH $match ORDER BY bm25(fts, 2.0, 1.0), rowid LIMIT 5";
                query.Parameters.AddWithValue("$match", string.Join(" OR ", Fts5Words(question).Select(w => $"\"{w}\"")));
                await using var reader = await query.ExecuteReaderAsync();
                while (await reader.ReadAsync()) fts.Add(reader.GetInt64(0));
            }
            var mine = index.Match(KnowledgeFullText.Terms(question), 5).Select(m => passages[m.Passage].ChunkId).ToList();
            questions++;
            if (fts.FirstOrDefault() == mine.FirstOrDefault()) sameFirst++;
            else output.WriteLine($"first differs: {question} → FTS5 {string.Join(",", fts)} | in process {string.Join(",", mine)} ({string.Join(" ", Fts5Words(question))})");
            if (fts.SequenceEqual(mine)) sameFive++;
        }
        output.WriteLine($"{questions} questions over {passages.Count} passages: same first passage {sameFirst}, same top five in order {sameFive}");
        Assert.Equal(questions, sameFirst);
        Assert.Equal(questions, sameFive);
    }

    /// <summary>The question's words as the old query sent them to FTS5: unstemmed (FTS5 stems them itself), stop words out.</summary>
    static IEnumerable<string> Fts5Words(string question) =>
        System.Text.RegularExpressions.Regex.Matches(question.ToLowerInvariant(), @"[\p{L}\p{N}]+").Select(m => m.Value)
            .Where(w => KnowledgeFullText.Terms(w).Count > 0).Distinct().Take(16);

    [Fact]
    public void Words_are_stemmed_accents_dropped_headings_weighted_and_nothing_is_query_syntax()
    {
        var index = KnowledgeFullText.Build(
        [
            Passage(1, "Router", "Resetting the router clears every setting."),
            Passage(2, "Café opening hours", "We open at nine."),
            Passage(3, "Billing", "A router appears once here among many other words about invoices and payments and taxes."),
            Passage(4, "Invoices", "Where to download an invoice."),
        ]);
        long[] Ids(string question, int top = 5) => [.. index.Match(KnowledgeFullText.Terms(question), top).Select(m => (long)m.Passage + 1)];

        Assert.Equal([1], Ids("how do I reset it?"));          // "reset" and "resetting" share a stem
        Assert.Equal([2], Ids("CAFE hours"));                  // accents and case do not matter
        Assert.Equal([1, 3], Ids("router"));                   // in a heading and a short passage beats once in a long one
        Assert.Equal([4, 3], Ids("invoices"));                 // a heading weighs twice the text
        Assert.Equal([1], Ids("router", top: 1));
        Assert.Empty(Ids("what is it for?"));                  // stop words only
        Assert.Empty(Ids("\"router\" OR NEAR(reset) *", top: 0));
        Assert.Equal([1, 3], Ids("\"router\" OR NEAR(reset*"));   // punctuation separates words, nothing is an operator
        Assert.Empty(KnowledgeFullText.Build([]).Match(["router"], 5));
    }
}
