using System.Text.Json;
using System.Text.RegularExpressions;
using Agentry.Data;
using Microsoft.EntityFrameworkCore;

namespace Agentry.Knowledge;

/// <summary>
/// The full-text half of retrieval: SQLite FTS5 (BM25, headings weighted over text) or PostgreSQL's tsvector with a GIN
/// index (ts_rank normalised by length: on the help-center set it finds the answering document first for 90 % of the
/// questions, ts_rank_cd for 80 %). A question becomes its content words joined by OR, each quoted: nothing a user types is read as
/// query syntax, and a passage with some of the words still ranks.
/// </summary>
public static partial class KnowledgeFullText
{
    static readonly HashSet<string> StopWords =
    [
        "a", "about", "an", "and", "are", "as", "at", "be", "but", "by", "can", "could", "did", "do", "does", "for", "from", "get", "had", "has",
        "have", "how", "i", "if", "in", "into", "is", "it", "its", "me", "my", "no", "not", "of", "on", "or", "our", "please", "should", "so",
        "that", "the", "their", "them", "then", "there", "these", "they", "this", "to", "was", "we", "were", "what", "when", "where", "which",
        "who", "why", "will", "with", "would", "you", "your",
    ];

    /// <summary>The words of a question worth matching: letters and digits, lower case, no stop words, at most 16.</summary>
    public static IReadOnlyList<string> Terms(string query) =>
        Words().Matches(query.ToLowerInvariant()).Select(m => m.Value).Where(w => !StopWords.Contains(w)).Distinct().Take(16).ToList();

    /// <summary>Ids of the best-matching chunks of the given knowledge bases, best first.</summary>
    public static async Task<IReadOnlyList<long>> MatchAsync(AgentryDbContext db, IReadOnlyList<string> knowledgeBases, IReadOnlyList<string> terms, int limit,
        CancellationToken cancellationToken)
    {
        if (terms.Count == 0 || knowledgeBases.Count == 0) return [];
        if (db.IsSqlite())
        {
            var match = string.Join(" OR ", terms.Select(t => $"\"{t}\""));
            var bases = JsonSerializer.Serialize(knowledgeBases);
            return await db.Database.SqlQuery<long>($"""
                SELECT c.id AS "Value" FROM knowledge_fts JOIN knowledge_chunks c ON c.id = knowledge_fts.rowid
                WHERE knowledge_fts MATCH {match} AND c.knowledge_base IN (SELECT value FROM json_each({bases}))
                ORDER BY bm25(knowledge_fts, 2.0, 1.0) LIMIT {limit}
                """).ToListAsync(cancellationToken);
        }
        var query = string.Join(" | ", terms);
        var array = knowledgeBases.ToArray();
        return await db.Database.SqlQuery<long>($"""
            SELECT c.id AS "Value" FROM knowledge_chunks c
            WHERE c.knowledge_base = ANY({array}) AND c.search_vector @@ to_tsquery('english', {query})
            ORDER BY ts_rank(c.search_vector, to_tsquery('english', {query}), 1) DESC LIMIT {limit}
            """).ToListAsync(cancellationToken);
    }

    [GeneratedRegex(@"[\p{L}\p{N}]+")]
    private static partial Regex Words();
}
