using System.Buffers;
using System.Globalization;
using System.Text;
using Lucene.Net.Tartarus.Snowball.Ext;

namespace Agentry.Knowledge;

/// <summary>
/// The full-text half of retrieval, in process: an inverted index of one knowledge base's passages (words lower-cased,
/// accents removed, Porter-stemmed, so "resetting" finds "reset"), ranked by BM25 with a section heading's words
/// weighted twice a text's — the ranking SQLite FTS5's <c>bm25(2.0, 1.0)</c> gave when the index lived in the database,
/// now the same on SQLite and PostgreSQL and without a database round trip per question. It is built with the
/// knowledge base's snapshot (the passages are in memory already). A question's content words are matched with OR:
/// nothing a user types is read as query syntax, and a passage with some of the words still ranks.
/// </summary>
public sealed class KnowledgeFullText
{
    // BM25's usual constants (FTS5's too): how fast repeated words saturate, and how much a long passage is discounted.
    const double K1 = 1.2;
    const double B = 0.75;
    const double SectionWeight = 2.0;
    const double TextWeight = 1.0;

    static readonly HashSet<string> StopWords =
    [
        "a", "about", "an", "and", "are", "as", "at", "be", "but", "by", "can", "could", "did", "do", "does", "for", "from", "get", "had", "has",
        "have", "how", "i", "if", "in", "into", "is", "it", "its", "me", "my", "no", "not", "of", "on", "or", "our", "please", "should", "so",
        "that", "the", "their", "them", "then", "there", "these", "they", "this", "to", "was", "we", "were", "what", "when", "where", "which",
        "who", "why", "will", "with", "would", "you", "your",
    ];

    /// <summary>A passage holding a word: how often in its section heading and in its text.</summary>
    readonly record struct Posting(int Passage, ushort InSection, ushort InText);

    readonly Dictionary<string, Posting[]> _postings;
    readonly int[] _lengths;
    readonly double _averageLength;

    KnowledgeFullText(Dictionary<string, Posting[]> postings, int[] lengths)
    {
        _postings = postings;
        _lengths = lengths;
        _averageLength = lengths.Length == 0 ? 1 : Math.Max(1, lengths.Average());
        Bytes = 4L * lengths.Length + postings.Sum(p => 8L * p.Value.Length + 64 + 2L * p.Key.Length);
    }

    /// <summary>What the index holds in memory, roughly, for the snapshot cache's budget.</summary>
    public long Bytes { get; }

    /// <summary>The words of a question worth matching, stemmed: no stop words, at most 16.</summary>
    public static IReadOnlyList<string> Terms(string query)
    {
        var stemmer = new PorterStemmer();
        return Words(query).Where(w => !StopWords.Contains(w)).Distinct().Take(16).Select(w => Stem(stemmer, w)).ToList();
    }

    public static KnowledgeFullText Build(IReadOnlyList<KnowledgePassage> passages)
    {
        var stemmer = new PorterStemmer();
        var stems = new Dictionary<string, string>(StringComparer.Ordinal);
        var postings = new Dictionary<string, List<Posting>>(StringComparer.Ordinal);
        var lengths = new int[passages.Count];
        var counts = new Dictionary<string, (ushort Section, ushort Text)>(StringComparer.Ordinal);
        for (var i = 0; i < passages.Count; i++)
        {
            counts.Clear();
            lengths[i] = Count(passages[i].Section, inSection: true) + Count(passages[i].Text, inSection: false);
            foreach (var (term, (section, text)) in counts)
            {
                if (!postings.TryGetValue(term, out var list)) postings[term] = list = [];
                list.Add(new Posting(i, section, text));
            }
        }
        return new KnowledgeFullText(postings.ToDictionary(p => p.Key, p => p.Value.ToArray(), StringComparer.Ordinal), lengths);

        int Count(string field, bool inSection)
        {
            var n = 0;
            foreach (var word in Words(field))
            {
                n++;
                if (!stems.TryGetValue(word, out var stem)) stems[word] = stem = Stem(stemmer, word);
                var (section, text) = counts.GetValueOrDefault(stem);
                counts[stem] = inSection ? ((ushort)Math.Min(section + 1, ushort.MaxValue), text) : (section, (ushort)Math.Min(text + 1, ushort.MaxValue));
            }
            return n;
        }
    }

    /// <summary>The best-matching passages (their positions in the snapshot) and their BM25 scores, best first.</summary>
    public IReadOnlyList<(int Passage, double Score)> Match(IReadOnlyList<string> terms, int limit)
    {
        if (terms.Count == 0 || limit <= 0 || _lengths.Length == 0) return [];
        var scores = ArrayPool<double>.Shared.Rent(_lengths.Length);
        Array.Clear(scores, 0, _lengths.Length); // a pooled array may come back from other code with values in it
        var touched = new List<int>();
        try
        {
            double n = _lengths.Length;
            foreach (var term in terms)
            {
                if (!_postings.TryGetValue(term, out var postings)) continue;
                // A word in most passages tells little; FTS5 floors a non-positive weight the same way.
                var idf = Math.Log((n - postings.Length + 0.5) / (postings.Length + 0.5));
                if (idf <= 0) idf = 1e-6;
                foreach (var posting in postings)
                {
                    var frequency = SectionWeight * posting.InSection + TextWeight * posting.InText;
                    var score = idf * frequency * (K1 + 1) / (frequency + K1 * (1 - B + B * _lengths[posting.Passage] / _averageLength));
                    if (scores[posting.Passage] == 0) touched.Add(posting.Passage);
                    scores[posting.Passage] += score;
                }
            }
            var best = new PriorityQueue<int, (double Score, int Passage)>(limit + 1, WorstFirst.Instance);
            foreach (var passage in touched)
            {
                best.Enqueue(passage, (scores[passage], passage));
                if (best.Count > limit) best.Dequeue();
            }
            var result = new (int, double)[best.Count];
            for (var i = result.Length - 1; best.TryDequeue(out var passage, out var key); i--) result[i] = (passage, key.Score);
            return result;
        }
        finally
        {
            foreach (var passage in touched) scores[passage] = 0;
            ArrayPool<double>.Shared.Return(scores);
        }
    }

    /// <summary>Orders the kept candidates so the weakest leaves first: a lower score, then (equal scores) the later passage.</summary>
    sealed class WorstFirst : IComparer<(double Score, int Passage)>
    {
        public static readonly WorstFirst Instance = new();
        public int Compare((double Score, int Passage) x, (double Score, int Passage) y) =>
            x.Score != y.Score ? x.Score.CompareTo(y.Score) : y.Passage.CompareTo(x.Passage);
    }

    /// <summary>
    /// Words as SQLite's unicode61 tokenizer with remove_diacritics 2 reads them: runs of letters and digits, lower case,
    /// accents dropped ("Café" is "cafe"); everything else separates.
    /// </summary>
    static IEnumerable<string> Words(string text)
    {
        var decomposed = text.Normalize(NormalizationForm.FormD);
        var word = new StringBuilder();
        foreach (var c in decomposed)
        {
            if (char.IsLetterOrDigit(c)) word.Append(char.ToLowerInvariant(c));
            else if (CharUnicodeInfo.GetUnicodeCategory(c) == UnicodeCategory.NonSpacingMark) continue; // an accent of the letter before it
            else if (word.Length > 0)
            {
                yield return word.ToString();
                word.Clear();
            }
        }
        if (word.Length > 0) yield return word.ToString();
    }

    static string Stem(PorterStemmer stemmer, string word)
    {
        // As FTS5's porter tokenizer: very short and very long tokens are kept as they are.
        if (word.Length < 3 || word.Length > 64) return word;
        stemmer.SetCurrent(word);
        stemmer.Stem();
        return stemmer.Current;
    }
}
