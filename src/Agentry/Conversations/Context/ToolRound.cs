using System.Text;
using Agentry.Agents;
using Microsoft.Extensions.AI;

namespace Agentry.Conversations.Context;

/// <summary>Tool calls of one model response and the results sent back for them.</summary>
public sealed record ToolRound(IReadOnlyList<FunctionCallContent> Calls, IReadOnlyList<AIContent> Results);
