namespace Agentry.Mcp;

/// <summary>
/// An MCP server added through the API. <see cref="Definition"/> is the JSON of everything but the values of env
/// entries and headers; those are in <see cref="Secrets"/>, encrypted with ASP.NET Core Data Protection.
/// </summary>
public sealed class StoredMcpServer
{
    public required string Name { get; set; }
    public required string Definition { get; set; }
    public required string Secrets { get; set; }
    public string? CreatedBy { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
}
