using System.Diagnostics;
using System.Text.Json;
using Agentry.Agents;
using Agentry.Models;
using Agentry.Rules;
using Agentry.Security;
using Agentry.Tools;
using Microsoft.Extensions.AI;

namespace Agentry.Conversations;

public sealed partial class TurnRunner
{
    /// <summary>Everything one turn accumulates while agents, models and tools take their steps.</summary>
    sealed class TurnState(
        Conversation conversation, bool isNew, AgentDefinition agent, ResolvedModel model, List<ChatMessage> history, Caller? caller,
        IDisposable lease, DateTimeOffset startedAt)
    {
        public Conversation Conversation { get; } = conversation;
        public bool IsNew { get; } = isNew;
        public AgentDefinition Agent { get; set; } = agent;
        public ResolvedModel Model { get; set; } = model;
        /// <summary>The conversation's text as every agent of this turn sees it: stored history plus the new user message.</summary>
        public List<ChatMessage> History { get; } = history;
        /// <summary>The active agent's working context: the history plus its own tool rounds.</summary>
        public List<ChatMessage> Context { get; set; } = [.. history];
        public required string SystemPrompt { get; set; }
        public required List<AITool> ToolSet { get; set; }
        public Caller? Caller { get; } = caller;
        public IDisposable Lease { get; } = lease;
        public DateTimeOffset StartedAt { get; } = startedAt;
        public long StartedTimestamp { get; } = Stopwatch.GetTimestamp();
        public List<Message> Produced { get; } = [];
        public long InputTokens { get; private set; }
        public long OutputTokens { get; private set; }
        public int Hops { get; set; }
        public int ToolCalls { get; set; }
        public int ToolRounds { get; set; }
        public string? FinishReason { get; set; }
        /// <summary>A new user message (as opposed to the continuation of an approved tool call).</summary>
        public bool IsUserTurn { get; init; }
        /// <summary>Hold deltas back until output rules have checked the reply.</summary>
        public bool BufferOutput { get; set; }
        public string? BlockedReply { get; set; }
        public string? EscalateTo { get; set; }
        public string? EscalationRule { get; set; }
        public Approval? PendingApproval { get; set; }
        public Exception? Failure { get; set; }
        public Activity? Activity { get; set; }
        /// <summary>The agent the conversation stays with after the turn when that is not the last speaker (a workflow).</summary>
        public string? ConversationAgentId { get; set; }
        public Dictionary<Message, List<RuleDecision>> Decisions { get; } = new(ReferenceEqualityComparer.Instance);

        /// <summary>Whether anything beyond the user's message exists that a commit must keep.</summary>
        public bool ProducedAnything => Produced.Count > (IsUserTurn ? 1 : 0);

        public void Decide(Message message, IEnumerable<RuleDecision> decisions)
        {
            if (!Decisions.TryGetValue(message, out var list)) Decisions[message] = list = [];
            list.AddRange(decisions);
        }

        public ChatOptions ChatOptions() => new()
        {
            Temperature = (float?)Agent.Temperature,
            MaxOutputTokens = Agent.MaxOutputTokens,
            Tools = ToolSet.Count > 0 ? ToolSet : null,
        };

        public void AddUsage(UsageDetails? usage)
        {
            InputTokens += usage?.InputTokenCount ?? 0;
            OutputTokens += usage?.OutputTokenCount ?? 0;
        }

        public Message AddAssistant(string text)
        {
            var message = NewMessage(Conversation.Id, MessageRoles.Assistant, Agent.Id, text);
            Produced.Add(message);
            History.Add(new ChatMessage(ChatRole.Assistant, text));
            Context.Add(new ChatMessage(ChatRole.Assistant, text));
            return message;
        }

        public void AddTool(FunctionCallContent call, ToolOutcome outcome, int maxStoredChars, IReadOnlyList<RuleDecision> decisions)
        {
            var content = outcome.ResultForModel.Length <= maxStoredChars ? outcome.ResultForModel : outcome.ResultForModel[..maxStoredChars] + "…[truncated]";
            var message = NewMessage(Conversation.Id, MessageRoles.Tool, Agent.Id, content);
            message.Metadata = JsonSerializer.Serialize(new
            {
                toolName = call.Name, callId = call.CallId, arguments = call.Arguments, outcome = outcome.Outcome, durationMs = outcome.DurationMs,
            });
            Produced.Add(message);
            if (decisions.Count > 0) Decide(message, decisions);
        }

        public void AddHandoff(string from, string to, string reason, string mode)
        {
            var message = NewMessage(Conversation.Id, MessageRoles.Handoff, to, $"Transferred from {from} to {to}: {reason}");
            message.Metadata = JsonSerializer.Serialize(new { from, to, reason, mode });
            Produced.Add(message);
        }
    }
}
