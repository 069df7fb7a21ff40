using System.Text;
using System.Text.RegularExpressions;
using Agentry.Models;

namespace Agentry.Conversations;

/// <summary>
/// The extractive rolling summary of a long conversation: one line per message that fell out of the history window (who
/// spoke and the gist: its first sentence, shortened), appended as the conversation grows, the oldest lines dropped once
/// it passes its token limit. Written without a model call, so it costs a turn nothing but a read of the messages that
/// just fell out; what a user asks to be kept for good belongs in long-term memory.
/// </summary>
public static partial class RollingSummary
{
    public const string Method = "extractive";
    const int GistChars = 200;

    public static string Extend(string? summary, IEnumerable<(string Role, string Content)> fallen, int tokenLimit)
    {
        var lines = new List<string>(string.IsNullOrEmpty(summary) ? [] : summary.Split('\n'));
        foreach (var (role, content) in fallen) lines.Add($"{(role == MessageRoles.User ? "user" : "agent")}: {Gist(content)}");
        var text = string.Join('\n', lines);
        // Oldest first out: the count is of the whole text, so trim a few lines at a time rather than recount per line.
        while (lines.Count > 1 && Tokens.Count(text) > tokenLimit)
        {
            lines.RemoveRange(0, Math.Max(1, lines.Count / 10));
            text = string.Join('\n', lines);
        }
        return text;
    }

    static string Gist(string content)
    {
        var flat = Whitespace().Replace(content, " ").Trim();
        var end = SentenceEnd().Match(flat);
        var first = end.Success && end.Index > 20 ? flat[..(end.Index + 1)] : flat;
        return first.Length <= GistChars ? first : first[..GistChars].TrimEnd() + "…";
    }

    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();

    [GeneratedRegex(@"[.!?](?=\s|$)")]
    private static partial Regex SentenceEnd();
}
