namespace Agentry.Memory;

/// <summary>An agent's <c>memory</c> setting: what it remembers about users across conversations.</summary>
public static class MemoryScopes
{
    /// <summary>Nothing: no memories in its context, no remember/recall tools.</summary>
    public const string Off = "off";
    /// <summary>Memories only this agent reads and writes.</summary>
    public const string Own = "own";
    /// <summary>Memories every agent with <c>shared</c> reads and writes, so they follow a user across agents and handoffs.</summary>
    public const string Shared = "shared";

    public static readonly IReadOnlyList<string> All = [Off, Own, Shared];

    /// <summary>The <see cref="UserMemory.AgentId"/> an agent reads and writes under: its id for <c>own</c>, null for <c>shared</c>.</summary>
    public static string? Owner(Agents.AgentDefinition agent) => agent.Memory == Own ? agent.Id : null;
}
