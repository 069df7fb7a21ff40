using System.Text.RegularExpressions;

namespace Agentry.Tests;

/// <summary>Untrusted text as the service fences it for the model (Conversations/Context/UntrustedData.cs); the tag's suffix varies with the text.</summary>
public static class Fence
{
    /// <summary>A regular expression for the opening tag of a fence from <paramref name="source"/>.</summary>
    public static string Open(string source) => $"<untrusted-data-[0-9a-f]{{12}} source=\"{Regex.Escape(source)}\">\n";

    /// <summary>Exactly <paramref name="content"/> fenced as data from <paramref name="source"/>, opening and matching closing tag.</summary>
    public static Regex Around(string source, string content) =>
        new($"<(?<tag>untrusted-data-[0-9a-f]{{12}}) source=\"{Regex.Escape(source)}\">\n{Regex.Escape(content)}\n</\\k<tag>>");
}
