using System.ComponentModel;
using System.Globalization;
using System.Text.Json;
using Agentry.Audit;
using Agentry.Conversations;
using Agentry.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;

namespace Agentry.Tools;

public sealed record ToolInfo(string Name, string Description, bool Enabled, JsonElement Parameters, IReadOnlyList<string> Agents);

/// <summary>
/// What a tool call needs to know about the turn it runs in, and where it reports what it did for the audit log (a
/// refund filed): the turn stores those events with its result, in the same transaction (no tool writes on its own).
/// </summary>
public sealed class ToolContext(string conversationId, string agentId, string keyId)
{
    readonly List<ToolEffect> _effects = [];

    public string ConversationId => conversationId;
    public string AgentId => agentId;
    /// <summary>The API key the turn is charged to.</summary>
    public string KeyId => keyId;
    public IReadOnlyList<ToolEffect> Effects => _effects;
    /// <summary>The conversation's user (memories are theirs); null when the client named none.</summary>
    public string? UserId { get; init; }
    /// <summary>The agent's <c>memory</c> setting and the owner its memories are kept under (<see cref="Memory.MemoryScopes.Owner"/>).</summary>
    public string MemoryScope { get; init; } = Memory.MemoryScopes.Off;
    public string? MemoryOwner { get; init; }
    readonly List<Memory.MemoryNote> _remembered = [];
    /// <summary>Facts the <c>remember</c> tool learned; stored with the turn.</summary>
    public IReadOnlyList<Memory.MemoryNote> Remembered => _remembered;

    public void Remember(Memory.MemoryNote note) => _remembered.Add(note);

    /// <summary>
    /// An eval's call of a tool that acts: checked like any call (the agent has the tool, it exists and is enabled),
    /// then answered with this text instead of running (<see cref="ToolInvoker"/>). Null: the tool runs.
    /// </summary>
    public string? DryRunResult { get; init; }

    public void Audit(string action, string target, string outcome, object? detail) => _effects.Add(new ToolEffect(action, target, outcome, detail));
}

/// <summary>An audit event a tool reported about its own effect.</summary>
public sealed record ToolEffect(string Action, string Target, string Outcome, object? Detail);

/// <summary>
/// The built-in tools an agent can enable by name in its <c>tools</c> list. Each is an <see cref="AIFunction"/>;
/// the turn orchestrator invokes them with a timeout and feeds results (or errors) back to the model.
/// </summary>
public sealed class ToolCatalog
{
    public const string ContextKey = "agentry.tool-context";

    /// <summary>The built-in tools' names, known before the catalog is built (settings are checked against them at start).</summary>
    public static readonly IReadOnlyList<string> BuiltInNames = ["calculator", "conversation_search", "current_time", "escalate_to_human", "http_get", Recall, "refund", Remember, SearchKnowledge];

    /// <summary>Searches the agent's knowledge bases; every agent with knowledge bases has it (<see cref="Agents.AgentDefinition.EffectiveTools"/>).</summary>
    public const string SearchKnowledge = "search_knowledge";
    /// <summary>Saves a fact about the user; with <see cref="Recall"/>, every agent whose <c>memory</c> is not off has it.</summary>
    public const string Remember = "remember";
    public const string Recall = "recall";
    readonly Dictionary<string, AIFunction> _tools;
    readonly ToolOptions _options;

    readonly Mcp.McpServers _mcp;

    public ToolCatalog(TimeProvider time, IOptions<ToolOptions> options, IHttpClientFactory http, Mcp.McpServers mcp)
    {
        _options = options.Value;
        _mcp = mcp;
        AIFunction[] tools =
        [
            AIFunctionFactory.Create(() => time.GetUtcNow().ToString("O", CultureInfo.InvariantCulture), "current_time",
                "Returns the current date and time in UTC, ISO-8601."),
            AIFunctionFactory.Create(([Description("An arithmetic expression with + - * / % ^, parentheses and decimals, e.g. (2+3)*4")] string expression)
                => Calculator.Evaluate(expression).ToString(CultureInfo.InvariantCulture), "calculator",
                "Evaluates an arithmetic expression exactly as written and returns the number."),
            AIFunctionFactory.Create(SearchConversationAsync, "conversation_search",
                "Finds earlier messages of this conversation that contain the given words or are about the given topic; returns up to five."),
            AIFunctionFactory.Create(EscalateToHuman, "escalate_to_human",
                "Asks a human colleague to take over this conversation. Use when you cannot help or the customer asks for a person."),
            AIFunctionFactory.Create(RequestRefund, "refund",
                "Files a refund request for the finance team and returns its reference. Amount in the account's currency."),
            AIFunctionFactory.Create((string url, CancellationToken ct) => HttpGetAsync(http, url, ct), "http_get",
                "Fetches a web page or API response (text, at most 64 KB) from an allowed host."),
            AIFunctionFactory.Create(RememberAsync, Remember,
                "Saves a lasting fact about the user (a preference, their product, their situation) for later conversations, in one short sentence. " +
                "To correct a fact you were given, pass its id as 'replaces'."),
            AIFunctionFactory.Create(RecallAsync, Recall,
                "Finds what you remember about the user that is related to the query; returns up to five memories with their ids."),
            AIFunctionFactory.Create(SearchKnowledgeAsync, SearchKnowledge,
                "Searches this agent's knowledge bases (the company's documents) and returns the passages that answer the query, numbered, with their document and section."),
        ];
        _tools = tools.ToDictionary(t => t.Name, StringComparer.Ordinal);
        if (!_tools.Keys.Order(StringComparer.Ordinal).SequenceEqual(BuiltInNames)) throw new InvalidOperationException("ToolCatalog.BuiltInNames is out of date.");
    }

    /// <summary>
    /// Whether giving an agent this tool needs an admin key: a tool of an MCP server (it runs whatever that server does),
    /// <c>http_get</c> (it reaches the network) and a tool whose policy limits amounts (it moves money, like <c>refund</c>).
    /// A key with <c>agents:write</c> may write agents, not widen what they can do to the world.
    /// </summary>
    public bool RequiresAdmin(string name) =>
        name.StartsWith(Mcp.McpToolNames.Prefix, StringComparison.Ordinal) || name == "http_get" || _options.PolicyFor(name)?.LimitsAmounts == true;

    /// <summary>Why a tool policy cannot name <paramref name="name"/>, or null: a built-in, or one tool of an MCP server (<c>mcp:SERVER/TOOL</c>).</summary>
    public static string? PolicyTargetProblem(string name) =>
        BuiltInNames.Contains(name) ? null
        : Mcp.McpToolNames.TryParse(name, out _, out var tool) ? tool == Mcp.McpToolNames.AllTools ? "a policy names one tool, not all of a server's (*)." : null
        : $"there is no built-in tool named '{name}' ({string.Join(", ", BuiltInNames)}); a tool of an MCP server is named mcp:SERVER/TOOL.";

    /// <summary>Built-in tools that only read: an eval runs them for real; every other tool runs dry there.</summary>
    static readonly string[] ReadOnlyBuiltIns = ["calculator", "conversation_search", "current_time", Recall, SearchKnowledge];

    /// <summary>
    /// Whether a call may act on the world or read beyond Agentry (files a refund, asks a person, fetches a URL, saves a
    /// memory, runs any MCP tool): in an eval run such a call is recorded, not made. An MCP tool counts as acting even
    /// when its server says it only reads: that hint is the server's claim, and even a read reaches real records.
    /// </summary>
    public bool HasSideEffects(string name) => !_tools.ContainsKey(name) || !ReadOnlyBuiltIns.Contains(name);

    /// <summary>Whether an agent may name it: a built-in tool, or a tool (or <c>*</c>) of a configured MCP server, connected or not.</summary>
    public bool Exists(string name) =>
        _tools.ContainsKey(name) || (Mcp.McpToolNames.TryParse(name, out var server, out _) && _mcp.IsKnown(server));

    /// <summary>Why an agent's <c>tools</c> entry cannot be used, or null.</summary>
    public string? ProblemWith(string name) =>
        Exists(name) ? null
        : !name.StartsWith(Mcp.McpToolNames.Prefix, StringComparison.Ordinal) ? $"There is no tool named '{name}'. See GET /v1/tools."
        : Mcp.McpToolNames.TryParse(name, out var server, out _) ? $"There is no MCP server named '{server}'. See GET /v1/mcp/servers."
        : $"'{name}' is not an MCP tool name: use mcp:SERVER/TOOL, or mcp:SERVER/* for all of a server's tools.";

    public bool IsEnabled(string name) => name != "http_get" || _options.HttpGetAllowedHosts.Length > 0;

    /// <summary>A built-in tool by name, or an MCP tool by its Agentry name or function name (null while its server is down).</summary>
    public AIFunction? Find(string name) =>
        _tools.GetValueOrDefault(name) is { } tool ? (IsEnabled(name) ? tool : null) : _mcp.FindTool(name);

    /// <summary>The name rules, approvals and the record use: an MCP tool's <c>mcp:server/tool</c> for the function name a model called.</summary>
    public string CanonicalName(string calledName) =>
        _tools.ContainsKey(calledName) ? calledName : _mcp.FindTool(calledName)?.CanonicalName ?? calledName;

    /// <summary>Whether an agent with these <c>tools</c> may call the tool (by its canonical name): listed itself, or its server's <c>*</c>.</summary>
    public static bool Allows(IReadOnlyCollection<string> agentTools, string name) =>
        agentTools.Contains(name) ||
        (Mcp.McpToolNames.TryParse(name, out var server, out _) && agentTools.Contains(Mcp.McpToolNames.Canonical(server, Mcp.McpToolNames.AllTools)));

    /// <summary>
    /// For an MCP tool that cannot run now, why, in words a chat user may read (the model gets this as the tool's error;
    /// the server's own errors and stderr are for admins, in GET /v1/mcp/servers): its server is down, or its definition
    /// changed and waits for an admin's approval.
    /// </summary>
    public string? Unavailable(string name) =>
        !Mcp.McpToolNames.TryParse(name, out var server, out var tool) || _mcp.Get(server) is not { } connection ? null
        : connection.Status != Mcp.McpConnection.Connected ? connection.Unavailable
        : connection.HeldChanges.Any(c => c.Name == tool) ? $"The tool '{name}' changed on its server and is not available until an admin approves the change."
        : null;

    public IEnumerable<AIFunction> Resolve(IEnumerable<string> names)
    {
        foreach (var name in names)
        {
            if (name.StartsWith(Mcp.McpToolNames.Prefix, StringComparison.Ordinal))
            {
                foreach (var tool in _mcp.Resolve(name)) yield return tool;
            }
            else if (Find(name) is { } tool) yield return tool;
        }
    }

    static async Task<string> SearchConversationAsync([Description("Words or a topic to look for")] string query, AIFunctionArguments arguments, CancellationToken ct)
    {
        var context = (ToolContext)arguments.Context![ContextKey]!;
        var search = arguments.Services!.GetRequiredService<Memory.ConversationSearch>();
        var hits = await search.SearchAsync(context.ConversationId, query, 5, ct);
        return hits.Count == 0 ? "No earlier message matches." : string.Join("\n", hits.Select(h =>
            $"#{h.Sequence} {h.Role}{(h.Score is { } score ? $" (similar in meaning, {score.ToString("0.00", System.Globalization.CultureInfo.InvariantCulture)})" : "")}: {(h.Content.Length > 300 ? h.Content[..300] + "…" : h.Content)}"));
    }

    static async Task<string> SearchKnowledgeAsync([Description("What to look for, in your own words")] string query, AIFunctionArguments arguments, CancellationToken ct)
    {
        var context = (ToolContext)arguments.Context![ContextKey]!;
        var agent = (await arguments.Services!.GetRequiredService<Agents.AgentCatalog>().FindAsync(context.AgentId, ct))?.Definition;
        if (agent?.Knowledge is not { Bases.Count: > 0 } knowledge) return "This agent has no knowledge base to search.";
        var hits = await arguments.Services!.GetRequiredService<Knowledge.IKnowledgeSearch>().SearchAsync(knowledge.Bases, query, knowledge.TopK, ct);
        return hits.Count == 0
            ? $"Nothing in the knowledge base ({string.Join(", ", knowledge.Bases)}) is about that."
            : string.Join("\n\n", hits.Select((h, i) => Knowledge.KnowledgeContext.Passage(i + 1, h.Passage)));
    }

    static async Task<string> RememberAsync([Description("The fact, in one short sentence")] string fact,
        AIFunctionArguments arguments, CancellationToken ct, [Description("The id of an earlier memory this one corrects, if any")] string? replaces = null)
    {
        var context = (ToolContext)arguments.Context![ContextKey]!;
        if (context.MemoryScope == Memory.MemoryScopes.Off) return "This agent keeps no memories (its memory setting is off).";
        if (context.UserId is not { } userId) return "This conversation names no user (userId), so nothing can be remembered beyond it.";
        fact = fact.Trim();
        if (fact.Length is 0 or > Memory.UserMemories.MaxTextLength)
            throw new ArgumentException($"The fact must be 1-{Memory.UserMemories.MaxTextLength} characters.");
        var memories = arguments.Services!.GetRequiredService<Memory.UserMemories>();
        replaces = string.IsNullOrWhiteSpace(replaces) ? null : replaces.Trim();
        if (replaces is not null && !await memories.IsCurrentAsync(userId, context.MemoryOwner, replaces, ct))
            throw new ArgumentException($"There is no current memory '{replaces}' of this user to replace.");
        context.Remember(new Memory.MemoryNote(fact, replaces, context.MemoryOwner, await memories.EmbedAsync(fact, ct)));
        return replaces is null ? $"Remembered: {fact}" : $"Remembered: {fact} (replaces {replaces})";
    }

    static async Task<string> RecallAsync([Description("What to look for")] string query, AIFunctionArguments arguments, CancellationToken ct)
    {
        var context = (ToolContext)arguments.Context![ContextKey]!;
        if (context.MemoryScope == Memory.MemoryScopes.Off) return "This agent keeps no memories (its memory setting is off).";
        if (context.UserId is not { } userId) return "This conversation names no user (userId), so there is nothing to recall.";
        var found = await arguments.Services!.GetRequiredService<Memory.UserMemories>().RecallAsync(userId, context.MemoryOwner, query, 5, ct);
        return found.Count == 0 ? "Nothing is remembered about this user." : string.Join("\n", found.Select(Memory.MemoryContext.Line));
    }

    static string EscalateToHuman([Description("Why a human is needed")] string reason, AIFunctionArguments arguments)
    {
        var context = (ToolContext)arguments.Context![ContextKey]!;
        context.Audit(AuditActions.ConversationEscalated, $"conversation:{context.ConversationId}", AuditActions.PendingHuman, new { context.AgentId, reason });
        return "A human colleague has been asked to take over this conversation.";
    }

    static string RequestRefund([Description("Amount to refund")] decimal amount, [Description("Why the refund is due")] string reason, AIFunctionArguments arguments)
    {
        if (amount <= 0) throw new ArgumentException("The amount must be positive.");
        var context = (ToolContext)arguments.Context![ContextKey]!;
        var reference = $"RF-{Guid.CreateVersion7().ToString("N")[^8..].ToUpperInvariant()}";
        // Recorded in the audit log, the system of record for the finance team until a payment system is connected (MCP).
        context.Audit(AuditActions.RefundRequested, $"conversation:{context.ConversationId}", "success", new { reference, amount, reason, context.AgentId });
        return $"Refund request {reference} for {amount.ToString(CultureInfo.InvariantCulture)} filed; the finance team pays it within 5 business days.";
    }

    async Task<string> HttpGetAsync(IHttpClientFactory http, string url, CancellationToken ct)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
            throw new ArgumentException("The url must be an absolute http(s) URL.");
        if (!_options.HttpGetAllowedHosts.Contains(uri.Host, StringComparer.OrdinalIgnoreCase))
            throw new ArgumentException($"The host '{uri.Host}' is not on the allowed list.");
        using var client = http.CreateClient(ToolsExtensions.HttpGetClient);
        using var response = await client.GetAsync(uri, HttpCompletionOption.ResponseHeadersRead, ct);
        await using var body = await response.Content.ReadAsStreamAsync(ct);
        var buffer = new byte[64 * 1024];
        var read = 0;
        while (read < buffer.Length && await body.ReadAsync(buffer.AsMemory(read), ct) is var n and > 0) read += n;
        return $"HTTP {(int)response.StatusCode}\n{System.Text.Encoding.UTF8.GetString(buffer, 0, read)}";
    }

    public IReadOnlyList<ToolInfo> List(IEnumerable<Agents.AgentDefinition> agents)
    {
        var definitions = agents.ToList();
        List<string> UsedBy(string name) => definitions.Where(a => Allows([.. a.EffectiveTools], name)).Select(a => a.Id).Order(StringComparer.Ordinal).ToList();
        var builtIn = _tools.Values.OrderBy(t => t.Name, StringComparer.Ordinal)
            .Select(t => new ToolInfo(t.Name, t.Description, IsEnabled(t.Name), t.JsonSchema, UsedBy(t.Name)));
        // MCP tools of connected servers, by their Agentry names; GET /v1/mcp/servers shows servers that are down.
        var mcp = _mcp.All.SelectMany(c => c.Tools)
            .Select(t => new ToolInfo(t.CanonicalName, t.Description, true, t.JsonSchema, UsedBy(t.CanonicalName)));
        return [.. builtIn, .. mcp];
    }
}
