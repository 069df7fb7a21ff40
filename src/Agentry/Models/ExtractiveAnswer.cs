using System.Text.RegularExpressions;

namespace Agentry.Models;

/// <summary>
/// How the offline model answers an agent with knowledge: it reads the numbered sources back out of the system prompt
/// and quotes the sentences of the best one that match the question most, citing its number; with no sources it says
/// it does not know. No generation, so no invention: what it says is in the documents.
/// </summary>
public static partial class ExtractiveAnswer
{
    sealed record Source(int Number, string Text);

    public sealed record Answer(bool Found, string Text);

    static readonly HashSet<string> StopWords =
    [
        "a", "an", "and", "are", "be", "can", "do", "does", "for", "get", "how", "i", "if", "in", "is", "it", "me", "my", "of", "on", "or", "should", "so",
        "that", "the", "there", "this", "to", "we", "what", "when", "where", "which", "who", "why", "will", "with", "you", "your", "our",
    ];

    /// <summary>
    /// The answer for <paramref name="question"/> (<see cref="Answer.Found"/> false when it is "I don't know"), or null
    /// when the prompt has no knowledge section.
    /// </summary>
    public static Answer? From(string systemPrompt, string question)
    {
        var at = systemPrompt.IndexOf("\n" + Knowledge.KnowledgeContext.Heading + "\n", StringComparison.Ordinal);
        if (at < 0) return null;
        var section = systemPrompt[at..];
        var sources = Conversations.Context.UntrustedData.Fenced(section, Knowledge.KnowledgeContext.FenceSource).Select(Parse).OfType<Source>().ToList();
        if (sources.Count == 0)
        {
            var bases = NothingFound().Match(section) is { Success: true } nothing ? nothing.Groups["bases"].Value : "the knowledge base";
            return new Answer(false, $"I don't know: nothing in {bases} covers that, and I would rather not guess. Could you put it another way, or shall I pass you to a colleague?");
        }

        var wanted = Stems(question);
        var best = sources
            .SelectMany((source, rank) => Sentences(source.Text).Select((sentence, index) => (source, index, sentence, score: Overlap(wanted, sentence) - 0.25 * rank)))
            .OrderByDescending(s => s.score).First();
        var sentences = Sentences(best.source.Text);
        // The best sentence, and the next one when it goes on about the same thing (steps, a condition, a time).
        var answer = sentences[best.index];
        if (best.index + 1 < sentences.Count && (Overlap(wanted, sentences[best.index + 1]) > 0 || answer.Length < 80)) answer += " " + sentences[best.index + 1];
        return new Answer(true, $"{answer} [{best.source.Number}]");
    }

    static Source? Parse(string fenced)
    {
        var newline = fenced.IndexOf('\n');
        if (newline < 0 || SourceNumber().Match(fenced[..newline]) is not { Success: true } number) return null;
        return new Source(int.Parse(number.Groups["n"].Value, System.Globalization.CultureInfo.InvariantCulture), fenced[(newline + 1)..]);
    }

    static List<string> Sentences(string text) =>
        SentenceBreak().Split(text.Replace('\n', ' ')).Select(s => s.Trim()).Where(s => s.Length > 0).ToList();

    static HashSet<string> Stems(string text) =>
        [.. Words().Matches(text.ToLowerInvariant()).Select(m => m.Value).Where(w => !StopWords.Contains(w)).Select(Stem)];

    static double Overlap(HashSet<string> wanted, string sentence) => Stems(sentence).Count(wanted.Contains);

    /// <summary>A crude stem, enough to match "resetting" with "reset" and "invoices" with "invoice".</summary>
    static string Stem(string word)
    {
        foreach (var suffix in (string[])["ing", "ed", "es", "s"])
            if (word.Length > suffix.Length + 3 && word.EndsWith(suffix, StringComparison.Ordinal)) return word[..^suffix.Length];
        return word;
    }

    [GeneratedRegex(@"^\[(?<n>\d+)\] ")]
    private static partial Regex SourceNumber();

    [GeneratedRegex(@"Nothing in the knowledge base \((?<bases>[^)]*)\)")]
    private static partial Regex NothingFound();

    [GeneratedRegex(@"(?<=[.!?])\s+(?=[A-Z0-9""(])")]
    private static partial Regex SentenceBreak();

    [GeneratedRegex(@"[\p{L}\p{N}]+(?:-[\p{L}\p{N}]+)*")]
    private static partial Regex Words();
}
