using System.Text.Json;
using System.Text.Json.Nodes;
using Agentry.Agents;
using Agentry.Api;
using Agentry.Conversations;
using Agentry.Models;
using Agentry.Security;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;

namespace Agentry.Mcp;

/// <summary>
/// Agentry as an MCP server at <c>/mcp</c> (Streamable HTTP, stateless, behind the same API keys and limits as the REST
/// API): each agent is a tool <c>ask_AGENT</c> (a message, and optionally the conversation to continue and the end
/// user), and <c>list_agents</c> says which there are. The tool list is read from the agent catalog at each request,
/// so agents added through the API appear at once (stateless servers cannot announce changes; clients re-list).
/// </summary>
public static class AgentryMcpServer
{
    public const string ListAgents = "list_agents";
    public const string AskPrefix = "ask_";

    static readonly JsonElement AskSchema = JsonDocument.Parse("""
        {"type":"object","properties":{
          "message":{"type":"string","description":"What to ask or tell the agent."},
          "conversationId":{"type":"string","description":"Continue this conversation (the conversationId a previous answer returned); omit to start a new one."},
          "userId":{"type":"string","description":"The end user this conversation belongs to, for memory and per-user limits (optional)."}},
          "required":["message"]}
        """).RootElement.Clone();
    static readonly JsonElement NoArguments = JsonDocument.Parse("""{"type":"object","properties":{}}""").RootElement.Clone();

    public static async ValueTask<ListToolsResult> ListToolsAsync(RequestContext<ListToolsRequestParams> request, CancellationToken cancellationToken)
    {
        var agents = await RequestServices(request).GetRequiredService<AgentCatalog>().ListAsync(cancellationToken);
        var tools = new List<Tool>
        {
            new() { Name = ListAgents, Description = "Lists the agents you can ask (ask_AGENT tools): id, name and what each is for.", InputSchema = NoArguments },
        };
        tools.AddRange(agents.Select(a => new Tool
        {
            Name = AskPrefix + a.Definition.Id,
            Description = $"Ask {a.Definition.Name}: {a.Definition.Description} Returns the reply and a conversationId to continue the conversation.".Trim(),
            InputSchema = AskSchema,
        }));
        return new ListToolsResult { Tools = tools };
    }

    public static async ValueTask<CallToolResult> CallToolAsync(RequestContext<CallToolRequestParams> request, CancellationToken cancellationToken)
    {
        var services = RequestServices(request);
        var name = request.Params?.Name ?? "";
        var arguments = request.Params?.Arguments ?? new Dictionary<string, JsonElement>();
        if (name == ListAgents)
        {
            var agents = await services.GetRequiredService<AgentCatalog>().ListAsync(cancellationToken);
            var list = agents.Select(a => new { id = a.Definition.Id, name = a.Definition.Name, description = a.Definition.Description, tool = AskPrefix + a.Definition.Id }).ToList();
            return Result(JsonSerializer.Serialize(list), JsonSerializer.SerializeToElement(new { agents = list }));
        }
        if (!name.StartsWith(AskPrefix, StringComparison.Ordinal)) return Error($"There is no tool named '{name}'. Call {ListAgents}, or tools/list.");
        // The same checks as POST /v1/chat: this is another door to the same turn.
        var conversationId = String(arguments, "conversationId");
        var chat = new ChatRequest(String(arguments, "message") ?? "", conversationId is null ? name[AskPrefix.Length..] : null, conversationId, String(arguments, "userId"), null);
        var errors = new ValidationErrors();
        chat.Validate(errors);
        if (!errors.IsEmpty) return Error("Invalid arguments: " + string.Join(" ", errors.ToDictionary().Select(e => $"{e.Key}: {string.Join(" ", e.Value)}")));
        // /mcp requires a key (Policies.Chat); a call that reached here without one is refused, never run as nobody.
        if (services.GetRequiredService<IHttpContextAccessor>().HttpContext?.GetCaller() is not { } caller) return Error("This call is not authenticated.");
        var turnRequest = new TurnRequest(chat.ConversationId, chat.Message, chat.AgentId, chat.UserId, caller, System.Diagnostics.Activity.Current?.TraceId.ToString());
        try
        {
            var runner = services.GetRequiredService<TurnRunner>();
            // A client that sent a progress token sees the reply as it is written, one progress notification per chunk.
            return request.Params?.ProgressToken is { } progress
                ? await StreamAsync(runner, turnRequest, request.Server, progress, cancellationToken)
                : Answer(await runner.RunAsync(turnRequest, cancellationToken));
        }
        catch (ApiProblemException problem)
        {
            return Error($"{problem.Title}: {problem.Message}");
        }
        catch (UpstreamModelException upstream)
        {
            return Error($"The agent could not answer: {upstream.Message}");
        }
    }

    /// <summary>The agent's reply, and the conversation id to continue with, as text and as structured content.</summary>
    static CallToolResult Answer(TurnDto turn)
    {
        var reply = string.Join("\n\n", turn.Messages.Where(m => m.Role == MessageRoles.Assistant && m.Content.Length > 0).Select(m => m.Content));
        var structured = new JsonObject
        {
            ["conversationId"] = turn.ConversationId, ["agentId"] = turn.AgentId, ["reply"] = reply, ["status"] = turn.Status,
            ["pendingApprovalId"] = turn.PendingApprovalId,
        };
        var text = $"{reply}\n\n(conversationId: {turn.ConversationId}; pass it to continue this conversation)";
        if (turn.PendingApprovalId is { } approval) text += $"\n(waiting for a person to approve a tool call: {approval})";
        return Result(text, JsonSerializer.SerializeToElement(structured));
    }

    /// <summary>
    /// Runs the turn as a stream and forwards each piece of the reply as <c>notifications/progress</c> (the text in
    /// <c>message</c>); ends with the answer, or the error the stream ended with. A turn that cannot start throws
    /// from the first read, as <see cref="TurnRunner.RunAsync"/> does.
    /// </summary>
    static async Task<CallToolResult> StreamAsync(TurnRunner runner, TurnRequest turnRequest, McpServer server, ProgressToken token, CancellationToken cancellationToken)
    {
        var pieces = 0;
        await foreach (var turnEvent in runner.StreamAsync(turnRequest, cancellationToken))
        {
            switch (turnEvent.Type)
            {
                case TurnEvent.Delta when turnEvent.Data is TextDelta delta:
                    await server.NotifyProgressAsync(token, new ModelContextProtocol.ProgressNotificationValue { Progress = ++pieces, Message = delta.Text },
                        cancellationToken: cancellationToken);
                    break;
                case TurnEvent.TurnCompleted when turnEvent.Data is TurnDto turn:
                    return Answer(turn);
                case TurnEvent.Error when turnEvent.Data is Microsoft.AspNetCore.Mvc.ProblemDetails problem:
                    return Error($"{problem.Title}: {problem.Detail}");
            }
        }
        return Error("The turn ended without an answer.");
    }

    /// <summary>The HTTP request's own services (its database context, its caller), whatever the transport's scoping.</summary>
    static IServiceProvider RequestServices<T>(RequestContext<T> request) =>
        request.Services?.GetService<IHttpContextAccessor>()?.HttpContext?.RequestServices ?? request.Services
        ?? throw new InvalidOperationException("The MCP request carries no services.");

    static string? String(IDictionary<string, JsonElement> arguments, string name) =>
        arguments.TryGetValue(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    static CallToolResult Result(string text, JsonElement structured) =>
        new() { Content = [new TextContentBlock { Text = text }], StructuredContent = structured };

    static CallToolResult Error(string text) => new() { IsError = true, Content = [new TextContentBlock { Text = text }] };
}
