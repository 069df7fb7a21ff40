namespace Agentry.Models;

/// <summary>
/// Sampling a client chose for one turn (the OpenAI-compatible doors accept them). Unset values keep the agent's own; the
/// output limit can only be lowered, because the operator's limit is also what a token budget reserves.
/// </summary>
public sealed record SamplingSettings(double? Temperature = null, double? TopP = null, int? MaxOutputTokens = null, IReadOnlyList<string>? Stop = null);
