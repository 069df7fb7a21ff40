namespace Agentry.Models;

/// <summary>
/// Rough token count for the offline model, which has no tokenizer: about one token per word or punctuation mark.
/// Real providers report their own usage, which Agentry stores as given.
/// </summary>
public static class TokenEstimator
{
    public static int Count(string? text)
    {
        if (string.IsNullOrEmpty(text)) return 0;
        var tokens = 0;
        var inWord = false;
        foreach (var c in text)
        {
            if (char.IsLetterOrDigit(c)) { if (!inWord) tokens++; inWord = true; }
            else { inWord = false; if (!char.IsWhiteSpace(c)) tokens++; }
        }
        return tokens;
    }
}
