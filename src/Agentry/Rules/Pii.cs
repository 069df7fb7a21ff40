using System.Text.RegularExpressions;

namespace Agentry.Rules;

/// <summary>Finds personal data in text. Card numbers must pass the Luhn check and IBANs the mod-97 check, so order numbers and dates are not flagged.</summary>
public static partial class Pii
{
    public static readonly string[] Kinds = ["email", "phone", "card", "iban"];

    public sealed record Found(int Start, int Length, string Kind);

    public static List<Found> Find(string text, IReadOnlyCollection<string> kinds)
    {
        var found = new List<Found>();
        if (kinds.Contains("card"))
            found.AddRange(CardPattern().Matches(text).Where(m => Luhn(Digits(m.Value))).Select(m => new Found(m.Index, m.Length, "card")));
        if (kinds.Contains("iban"))
            found.AddRange(IbanPattern().Matches(text).Where(m => IbanValid(m.Value)).Select(m => new Found(m.Index, m.Length, "iban")));
        if (kinds.Contains("email"))
            found.AddRange(EmailPattern().Matches(text).Select(m => new Found(m.Index, m.Length, "email")));
        if (kinds.Contains("phone"))
            found.AddRange(PhonePattern().Matches(text)
                .Where(m => Digits(m.Value).Length is >= 9 and <= 15 && !found.Any(f => Overlaps(f, m.Index, m.Length)))
                .Select(m => new Found(m.Index, m.Length, "phone")));
        return found.OrderBy(f => f.Start).ToList();
    }

    static bool Overlaps(Found f, int start, int length) => start < f.Start + f.Length && f.Start < start + length;

    static string Digits(string value) => new(value.Where(char.IsDigit).ToArray());

    public static bool Luhn(string digits)
    {
        if (digits.Length is < 13 or > 19) return false;
        var sum = 0;
        for (var i = 0; i < digits.Length; i++)
        {
            var d = digits[digits.Length - 1 - i] - '0';
            if (i % 2 == 1) { d *= 2; if (d > 9) d -= 9; }
            sum += d;
        }
        return sum % 10 == 0;
    }

    public static bool IbanValid(string value)
    {
        var iban = new string(value.Where(char.IsLetterOrDigit).ToArray()).ToUpperInvariant();
        if (iban.Length is < 15 or > 34) return false;
        var rearranged = iban[4..] + iban[..4];
        var remainder = 0;
        foreach (var c in rearranged)
        {
            var chunk = char.IsDigit(c) ? (c - '0').ToString(System.Globalization.CultureInfo.InvariantCulture) : (c - 'A' + 10).ToString(System.Globalization.CultureInfo.InvariantCulture);
            foreach (var digit in chunk) remainder = (remainder * 10 + (digit - '0')) % 97;
        }
        return remainder == 1;
    }

    [GeneratedRegex(@"\b(?:\d[ -]?){12,18}\d\b")]
    private static partial Regex CardPattern();

    [GeneratedRegex(@"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b", RegexOptions.IgnoreCase)]
    private static partial Regex IbanPattern();

    [GeneratedRegex(@"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")]
    private static partial Regex EmailPattern();

    [GeneratedRegex(@"(?<![\w])\+?\(?\d[\d ()./-]{7,}\d(?![\w])")]
    private static partial Regex PhonePattern();
}
