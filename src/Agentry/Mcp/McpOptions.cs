using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;

namespace Agentry.Mcp;

/// <summary>MCP in both directions: servers whose tools agents use (<c>Mcp:Servers:NAME</c>), and <c>/mcp</c>, which serves Agentry's agents.</summary>
public sealed class McpOptions
{
    public const string Section = "Mcp";

    /// <summary>Servers from settings, by name. Servers added through <c>POST /v1/mcp/servers</c> are stored in the database instead.</summary>
    public Dictionary<string, McpServerSettings> Servers { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Longest a server may take to start and answer <c>initialize</c> and <c>tools/list</c>.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Wait before the first attempt to reconnect a server whose connection ended or failed; it doubles with each failure…</summary>
    public TimeSpan ReconnectDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>…up to this.</summary>
    public TimeSpan MaxReconnectDelay { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>How often an instance picks up servers another instance added or removed through the API.</summary>
    public TimeSpan SyncInterval { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>Whether <c>/mcp</c> serves the agents to MCP clients (API keys required, as for the REST API).</summary>
    public bool ServeAgents { get; set; } = true;

    /// <summary>
    /// Whether <c>POST /v1/mcp/servers</c> may add a stdio server. A stdio server is a command Agentry runs on its host,
    /// so by default only settings (the operator's own files) define them; an admin key cannot run programs.
    /// </summary>
    public bool AllowStdioFromApi { get; set; }

    /// <summary>
    /// Private networks (CIDR) an http server added through the API may be at. By default such a server must resolve to
    /// public addresses only: loopback, private, link-local (cloud metadata), CGNAT and unique-local addresses are
    /// refused, checked on every connection after DNS resolution, and redirects are not followed.
    /// </summary>
    public string[] AllowPrivateNetworks { get; set; } = [];

    /// <summary>
    /// Environment variables a server added through the API may reference as <c>${env:NAME}</c> in its env or headers.
    /// Empty by default: otherwise an admin key could send <c>${env:OPENAI_API_KEY}</c> to a URL of its choosing.
    /// </summary>
    public string[] AllowedEnvReferences { get; set; } = [];
}

/// <summary>How to reach one MCP server; the shape of a settings entry and of the API's request body.</summary>
public sealed class McpServerSettings
{
    /// <summary><c>stdio</c> (a local process Agentry starts) or <c>http</c> (Streamable HTTP).</summary>
    public string Transport { get; set; } = McpTransports.Stdio;
    public string? Command { get; set; }
    [Operations.WholeItems]
    public List<string> Args { get; set; } = [];
    /// <summary>Variables for a stdio server on top of a safe minimum (PATH, HOME, …); Agentry's own environment is not passed on. <c>${env:NAME}</c> reads NAME from Agentry's environment.</summary>
    public Dictionary<string, string> Env { get; set; } = new(StringComparer.Ordinal);
    public string? WorkingDirectory { get; set; }
    public string? Url { get; set; }
    /// <summary>Headers for an http server, e.g. <c>Authorization</c>; <c>${env:NAME}</c> reads NAME from Agentry's environment.</summary>
    public Dictionary<string, string> Headers { get; set; } = new(StringComparer.OrdinalIgnoreCase);
}

public static partial class McpTransports
{
    public const string Stdio = "stdio";
    public const string Http = "http";

    /// <summary>Server names become part of tool names (<c>mcp:NAME/tool</c>, <c>NAME__tool</c>), so they are short slugs.</summary>
    public static bool IsValidName(string? name) => name is not null && NamePattern().IsMatch(name);

    /// <summary>What is wrong with a server definition, by field; empty when it can be connected.</summary>
    public static Dictionary<string, string[]> Validate(string? name, McpServerSettings settings)
    {
        var errors = new Dictionary<string, string[]>();
        if (!IsValidName(name)) errors["name"] = ["1-32 characters: lowercase letters, digits and '-', starting with a letter or digit."];
        switch (settings.Transport)
        {
            case Stdio:
                if (string.IsNullOrWhiteSpace(settings.Command)) errors["command"] = ["Required for the stdio transport: the program to start, e.g. npx or node."];
                if (settings.Url is not null) errors["url"] = ["Only for the http transport."];
                if (settings.Headers.Count > 0) errors["headers"] = ["Only for the http transport."];
                break;
            case Http:
                if (!Uri.TryCreate(settings.Url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
                    errors["url"] = ["Required for the http transport: the absolute http(s) URL of the server's MCP endpoint."];
                if (settings.Command is not null || settings.Args.Count > 0 || settings.Env.Count > 0 || settings.WorkingDirectory is not null)
                    errors["command"] = ["command, args, env and workingDirectory are only for the stdio transport."];
                break;
            default:
                errors["transport"] = [$"'{settings.Transport}' is not a transport; use 'stdio' or 'http'."];
                break;
        }
        if (settings.Args.Count > 100 || settings.Env.Count > 100 || settings.Headers.Count > 50) errors["args"] = ["At most 100 args, 100 env entries and 50 headers."];
        return errors;
    }

    [GeneratedRegex("^[a-z0-9][a-z0-9-]{0,31}$")]
    private static partial Regex NamePattern();
}

public sealed class McpOptionsValidator : IValidateOptions<McpOptions>
{
    public ValidateOptionsResult Validate(string? name, McpOptions options)
    {
        var failures = options.Servers.SelectMany(s => McpTransports.Validate(s.Key, s.Value)
            .Select(e => $"Mcp:Servers:{s.Key}: {e.Key}: {string.Join(" ", e.Value)}")).ToList();
        if (options.ConnectTimeout <= TimeSpan.Zero) failures.Add("Mcp:ConnectTimeout must be positive.");
        if (options.ReconnectDelay < TimeSpan.FromMilliseconds(100)) failures.Add("Mcp:ReconnectDelay must be at least 100 ms.");
        if (options.MaxReconnectDelay < options.ReconnectDelay) failures.Add("Mcp:MaxReconnectDelay must be at least Mcp:ReconnectDelay.");
        if (options.SyncInterval < TimeSpan.FromSeconds(1)) failures.Add("Mcp:SyncInterval must be at least 1 second.");
        foreach (var network in options.AllowPrivateNetworks)
            if (!System.Net.IPNetwork.TryParse(network, out _)) failures.Add($"Mcp:AllowPrivateNetworks: '{network}' is not a network such as 10.0.0.0/8.");
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
