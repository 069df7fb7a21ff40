using System.Buffers;
using System.Globalization;
using System.Runtime.InteropServices;
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

    // The index in three flat arrays (100,000 passages hold about 10 million word-in-passage pairs, so no object per
    // pair): the passages holding term t are _passages[_offsets[t].._offsets[t + 1]], in passage order, each with its
    // BM25 term weight (FTS5's: heading occurrences count twice, divided by the passage's length against the average),
    // which depends only on the passage, so a question only multiplies it by the word's rarity and adds.
    readonly Dictionary<string, int> _terms;
    readonly int[] _offsets;
    readonly int[] _passages;
    readonly float[] _weights;
    readonly int _count;

    KnowledgeFullText(Dictionary<string, int> terms, int[] offsets, int[] passages, float[] weights, int count)
    {
        (_terms, _offsets, _passages, _weights, _count) = (terms, offsets, passages, weights, count);
        Bytes = 4L * offsets.Length + 8L * passages.Length + terms.Sum(t => 64 + 2L * t.Key.Length);
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
        // A word seen before is looked up by its characters: a knowledge base of 100,000 passages has 15 million words
        // but only tens of thousands of distinct ones, and each is stemmed once.
        var stems = new Dictionary<string, int>(StringComparer.Ordinal);
        var termOf = stems.GetAlternateLookup<ReadOnlySpan<char>>();
        var terms = new Dictionary<string, int>(StringComparer.Ordinal);
        var counts = new Dictionary<int, (ushort Section, ushort Text)>();
        // First pass: each passage's distinct terms with their counts, one after another.
        var pairTerms = new List<int>(passages.Count * 64);
        var pairFrequencies = new List<float>(passages.Count * 64);
        var firstPair = new int[passages.Count + 1];
        var lengths = new int[passages.Count];
        var buffer = new char[64];
        var inSection = false;
        var length = 0;
        WordHandler count = word =>
        {
            length++;
            if (!termOf.TryGetValue(word, out var term))
            {
                var text = word.ToString();
                var stem = Stem(stemmer, text);
                if (!terms.TryGetValue(stem, out term)) terms[stem] = term = terms.Count;
                stems[text] = term;
            }
            ref var seen = ref CollectionsMarshal.GetValueRefOrAddDefault(counts, term, out _);
            if (inSection) seen.Section = (ushort)Math.Min(seen.Section + 1, ushort.MaxValue);
            else seen.Text = (ushort)Math.Min(seen.Text + 1, ushort.MaxValue);
        };
        for (var i = 0; i < passages.Count; i++)
        {
            counts.Clear();
            (length, inSection) = (0, true);
            EachWord(passages[i].Section, ref buffer, count);
            inSection = false;
            EachWord(passages[i].Text, ref buffer, count);
            lengths[i] = length;
            firstPair[i] = pairTerms.Count;
            foreach (var (term, (section, text)) in counts)
            {
                pairTerms.Add(term);
                pairFrequencies.Add((float)(SectionWeight * section + TextWeight * text));
            }
        }
        firstPair[passages.Count] = pairTerms.Count;

        // Second pass: the pairs sorted by term (a counting sort keeps each term's passages in order).
        var averageLength = lengths.Length == 0 ? 1 : Math.Max(1, lengths.Average());
        var offsets = new int[terms.Count + 1];
        foreach (var term in pairTerms) offsets[term + 1]++;
        for (var t = 0; t < terms.Count; t++) offsets[t + 1] += offsets[t];
        var next = offsets[..^1];
        var postings = new int[pairTerms.Count];
        var weights = new float[pairTerms.Count];
        for (var i = 0; i < passages.Count; i++)
        {
            var norm = K1 * (1 - B + B * lengths[i] / averageLength);
            for (var pair = firstPair[i]; pair < firstPair[i + 1]; pair++)
            {
                var at = next[pairTerms[pair]]++;
                var frequency = pairFrequencies[pair];
                postings[at] = i;
                weights[at] = (float)(frequency * (K1 + 1) / (frequency + norm));
            }
        }
        return new KnowledgeFullText(terms, offsets, postings, weights, passages.Count);
    }

    /// <summary>The best-matching passages (their positions in the snapshot) and their BM25 scores, best first.</summary>
    public IReadOnlyList<(int Passage, double Score)> Match(IReadOnlyList<string> terms, int limit)
    {
        if (terms.Count == 0 || limit <= 0 || _count == 0) return [];
        var scores = ArrayPool<double>.Shared.Rent(_count);
        Array.Clear(scores, 0, _count); // a pooled array may come back from other code with values in it
        var touched = new List<int>();
        try
        {
            foreach (var term in terms)
            {
                if (!_terms.TryGetValue(term, out var t)) continue;
                var (from, to) = (_offsets[t], _offsets[t + 1]);
                // A word in most passages tells little; FTS5 floors a non-positive weight the same way.
                var idf = Math.Log((_count - (to - from) + 0.5) / (to - from + 0.5));
                if (idf <= 0) idf = 1e-6;
                for (var at = from; at < to; at++)
                {
                    var passage = _passages[at];
                    if (scores[passage] == 0) touched.Add(passage);
                    scores[passage] += idf * _weights[at];
                }
            }
            var best = new PriorityQueue<int, (double Score, int Passage)>(limit + 1, WorstFirst.Instance);
            foreach (var passage in touched)
            {
                var key = (scores[passage], passage);
                if (best.Count < limit) best.Enqueue(passage, key);
                else if (best.TryPeek(out _, out var worst) && WorstFirst.Instance.Compare(key, worst) > 0) best.EnqueueDequeue(passage, key);
            }
            var result = new (int, double)[best.Count];
            for (var i = result.Length - 1; best.TryDequeue(out var passage, out var key); i--) result[i] = (passage, key.Score);
            return result;
        }
        finally
        {
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

    delegate void WordHandler(ReadOnlySpan<char> word);

    static List<string> Words(string text)
    {
        var words = new List<string>();
        var buffer = new char[64];
        EachWord(text, ref buffer, word => words.Add(word.ToString()));
        return words;
    }

    /// <summary>
    /// Words as SQLite's unicode61 tokenizer with remove_diacritics 2 reads them: runs of letters and digits, lower case,
    /// accents dropped ("Café" is "cafe"); everything else separates.
    /// </summary>
    static void EachWord(string text, ref char[] buffer, WordHandler handler)
    {
        var decomposed = text.IsNormalized(NormalizationForm.FormD) ? text : text.Normalize(NormalizationForm.FormD);
        var length = 0;
        foreach (var c in decomposed)
        {
            if (char.IsLetterOrDigit(c))
            {
                if (length == buffer.Length) Array.Resize(ref buffer, buffer.Length * 2);
                buffer[length++] = char.ToLowerInvariant(c);
            }
            else if (CharUnicodeInfo.GetUnicodeCategory(c) == UnicodeCategory.NonSpacingMark) continue; // an accent of the letter before it
            else if (length > 0)
            {
                handler(buffer.AsSpan(0, length));
                length = 0;
            }
        }
        if (length > 0) handler(buffer.AsSpan(0, length));
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
