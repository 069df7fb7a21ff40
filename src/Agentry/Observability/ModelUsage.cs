using System.Diagnostics;
using Microsoft.Extensions.Options;

namespace Agentry.Observability;

/// <summary>Tokens one model used for one agent within a turn.</summary>
public sealed record ModelUsage(string Model, string Agent, long InputTokens, long OutputTokens);
