namespace Agentry.Evals;

/// <summary>
/// Which language a reply is in, by its most common function words: enough to tell English from German, French,
/// Spanish, Dutch, Italian and Portuguese in a reply of a sentence or more (a model can judge anything finer).
/// </summary>
public static class LanguageGuess
{
    static readonly Dictionary<string, string[]> Words = new()
    {
        ["en"] = ["the", "and", "you", "your", "is", "to", "of", "with", "for", "this", "that", "are", "can", "will", "have"],
        ["de"] = ["der", "die", "das", "und", "ist", "nicht", "sie", "ich", "mit", "ein", "eine", "zu", "ihr", "ihre", "wir", "für"],
        ["fr"] = ["le", "la", "les", "et", "est", "vous", "votre", "pour", "une", "des", "pas", "avec", "nous", "je", "du"],
        ["es"] = ["el", "los", "las", "es", "usted", "su", "para", "una", "por", "con", "que", "del", "está", "puede", "y"],
        ["nl"] = ["de", "het", "een", "en", "is", "niet", "u", "uw", "voor", "met", "wij", "ik", "dat", "van", "zijn"],
        ["it"] = ["il", "lo", "gli", "è", "non", "per", "una", "con", "che", "sono", "della", "suo", "può", "questo"],
        ["pt"] = ["o", "os", "as", "é", "não", "para", "uma", "com", "que", "você", "seu", "sua", "do", "da", "pode"],
    };

    static readonly Dictionary<string, string> Names = new(StringComparer.OrdinalIgnoreCase)
    {
        ["english"] = "en", ["german"] = "de", ["deutsch"] = "de", ["french"] = "fr", ["français"] = "fr", ["spanish"] = "es", ["español"] = "es",
        ["dutch"] = "nl", ["nederlands"] = "nl", ["italian"] = "it", ["italiano"] = "it", ["portuguese"] = "pt", ["português"] = "pt",
    };

    /// <summary>An ISO 639-1 code for a code or an English (or native) language name; null for one this guesser does not know.</summary>
    public static string? Code(string language)
    {
        var lower = language.Trim().ToLowerInvariant();
        return Words.ContainsKey(lower) ? lower : Names.GetValueOrDefault(lower);
    }

    public static IReadOnlyCollection<string> Known => Words.Keys;

    /// <summary>The most likely language of <paramref name="text"/>, or null when too few of its words say.</summary>
    public static string? Of(string text)
    {
        var tokens = text.ToLowerInvariant().Split([' ', '\n', '\t', ',', '.', '!', '?', ';', ':', '"', '(', ')'], StringSplitOptions.RemoveEmptyEntries);
        var best = Words.Select(w => (Language: w.Key, Hits: tokens.Count(w.Value.Contains))).OrderByDescending(s => s.Hits).First();
        return best.Hits >= 2 ? best.Language : null;
    }
}
