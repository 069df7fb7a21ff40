using System.Text.RegularExpressions;

namespace Agentry.Mcp;

/// <summary>
/// What of a server's definition may be shown and audited: env and header values are secrets and never leave the
/// database, but secrets also hide in URLs (<c>?token=…</c>, <c>user:password@</c>) and command lines (<c>--api-key …</c>,
/// <c>sk-…</c>). Those are replaced with <c>***</c> in every response and audit event.
/// </summary>
public static partial class McpRedaction
{
    const string Hidden = "***";

    /// <summary>The URL with its password and every query value hidden (the names stay, so an operator can tell which is which).</summary>
    public static string? Url(string? url)
    {
        if (url is null || !Uri.TryCreate(url, UriKind.Absolute, out var uri)) return url is null ? null : SecretValue().Replace(url, Hidden);
        var builder = new UriBuilder(uri);
        if (builder.Password.Length > 0) builder.Password = Hidden;
        if (builder.Query.Length > 1)
            builder.Query = string.Join('&', builder.Query.TrimStart('?').Split('&').Select(pair => pair.Split('=', 2) is [var name, _] ? $"{name}={Hidden}" : pair));
        return builder.Uri.AbsoluteUri;
    }

    /// <summary>Arguments with the values of secret-looking options (<c>--token x</c>, <c>--api-key=x</c>) and secret-looking values hidden.</summary>
    public static IReadOnlyList<string> Args(IReadOnlyList<string> args)
    {
        var shown = new List<string>(args.Count);
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            if (SecretOption().Match(arg) is { Success: true } option && option.Groups["value"].Success) shown.Add($"{option.Groups["name"].Value}={Hidden}");
            else if (i > 0 && SecretOption().IsMatch(args[i - 1]) && !args[i - 1].Contains('=') && !arg.StartsWith('-')) shown.Add(Hidden);
            else if (Uri.TryCreate(arg, UriKind.Absolute, out _) && arg.Contains("://", StringComparison.Ordinal)) shown.Add(Url(arg)!);
            else shown.Add(SecretValue().Replace(arg, Hidden));
        }
        return shown;
    }

    [GeneratedRegex(@"^(?<name>--?[A-Za-z0-9_-]*(token|secret|password|passwd|pwd|api[-_]?key|apikey|auth|credential|private[-_]?key)[A-Za-z0-9_-]*)(=(?<value>.*))?$", RegexOptions.IgnoreCase)]
    private static partial Regex SecretOption();

    /// <summary>Well-known secret formats: OpenAI and Anthropic keys, GitHub and Slack tokens, AWS access keys, JWTs, bearer tokens.</summary>
    [GeneratedRegex(@"\b(sk-[A-Za-z0-9_-]{16,}|sk-ant-[A-Za-z0-9_-]{16,}|gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|xox[abprs]-[A-Za-z0-9-]{10,}|AKIA[0-9A-Z]{16}|eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}|agk_[A-Za-z0-9_-]{16,})|(?<=Bearer\s+)[A-Za-z0-9._~+/=-]{8,}")]
    private static partial Regex SecretValue();
}
