using System.Security.Cryptography;
using System.Text;

namespace Agentry.Mcp;

/// <summary>
/// An MCP tool has two names. Agents, rules, approvals, the audit log and the API use <c>mcp:SERVER/TOOL</c>;
/// <c>mcp:SERVER/*</c> in an agent's tools means all of a server's tools. Models get a function name that fits
/// OpenAI's <c>^[a-zA-Z0-9_-]{1,64}$</c>: <c>SERVER__TOOL</c>; a name that had to change (other characters replaced by
/// '_', or shortened) ends with a hash of the tool's real name, so <c>get.user</c> and <c>get_user</c> never share one.
/// </summary>
public static class McpToolNames
{
    public const string Prefix = "mcp:";
    public const string AllTools = "*";

    public static string Canonical(string server, string tool) => $"{Prefix}{server}/{tool}";

    public static bool TryParse(string name, out string server, out string tool)
    {
        server = tool = "";
        if (!name.StartsWith(Prefix, StringComparison.Ordinal)) return false;
        var slash = name.IndexOf('/', Prefix.Length);
        if (slash < 0 || slash == name.Length - 1) return false;
        server = name[Prefix.Length..slash];
        tool = name[(slash + 1)..];
        return McpTransports.IsValidName(server);
    }

    public static string FunctionName(string server, string tool)
    {
        var name = new StringBuilder(server.Length + tool.Length + 2).Append(server).Append("__");
        var changed = false;
        foreach (var c in tool)
        {
            var kept = char.IsAsciiLetterOrDigit(c) || c is '_' or '-';
            name.Append(kept ? c : '_');
            changed |= !kept;
        }
        if (!changed && name.Length <= 64) return name.ToString();
        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(Canonical(server, tool))))[..8];
        return string.Concat(name.ToString().AsSpan(0, Math.Min(name.Length, 55)), "_", hash);
    }
}
