using System.Text.Json;
using System.Text.Json.Nodes;
using Agentry.Conversations.Context;
using Microsoft.Extensions.AI;
using ModelContextProtocol.Client;

namespace Agentry.Mcp;

/// <summary>
/// One tool of an MCP server as Agentry's tool machinery sees it: an <see cref="AIFunction"/> whose name is the
/// model-safe function name; calls go through the connection, so they reach the server's current process. Its
/// description and every description in its schema are the server's words, not the operator's: the model receives them
/// fenced as untrusted data (a tool description is a prompt-injection channel like any tool result).
/// </summary>
public sealed class McpFunction(McpConnection connection, McpClientTool tool) : AIFunction
{
    public const string CanonicalNameKey = "agentry.tool";
    readonly Dictionary<string, object?> _properties = new() { [CanonicalNameKey] = McpToolNames.Canonical(connection.Name, tool.Name) };
    readonly string _source = $"mcp server {connection.Name}";

    public string ToolName => tool.Name;
    public string CanonicalName => McpToolNames.Canonical(connection.Name, tool.Name);
    /// <summary>The description as the server wrote it, for admins (GET /v1/mcp/servers); models get <see cref="Description"/>.</summary>
    public string ServerDescription => tool.Description;
    public McpToolFingerprint Fingerprint { get; } = McpToolPins.Fingerprint(tool.ProtocolTool);
    public override string Name { get; } = McpToolNames.FunctionName(connection.Name, tool.Name);
    public override string Description => string.IsNullOrEmpty(tool.Description) ? "" : UntrustedData.Wrap(_source, tool.Description);
    public override JsonElement JsonSchema => field.ValueKind == JsonValueKind.Undefined ? field = FenceDescriptions(tool.JsonSchema, _source) : field;
    public override IReadOnlyDictionary<string, object?> AdditionalProperties => _properties;

    protected override async ValueTask<object?> InvokeCoreAsync(AIFunctionArguments arguments, CancellationToken cancellationToken) =>
        await connection.CallAsync(tool.Name, arguments.ToDictionary(a => a.Key, a => a.Value, StringComparer.Ordinal), cancellationToken);

    /// <summary>The schema with every <c>description</c> and <c>title</c> text fenced; its structure (what the binder reads) unchanged.</summary>
    static JsonElement FenceDescriptions(JsonElement schema, string source)
    {
        if (JsonNode.Parse(schema.GetRawText()) is not { } node) return schema;
        Fence(node, source);
        return JsonSerializer.SerializeToElement(node);
    }

    static void Fence(JsonNode node, string source)
    {
        switch (node)
        {
            case JsonObject obj:
                foreach (var (key, value) in obj.ToList())
                {
                    if (key is "description" or "title" && value is JsonValue text && text.TryGetValue<string>(out var words) && words.Length > 0)
                        obj[key] = UntrustedData.Wrap(source, words);
                    else if (value is not null) Fence(value, source);
                }
                break;
            case JsonArray array:
                foreach (var item in array) if (item is not null) Fence(item, source);
                break;
        }
    }
}
