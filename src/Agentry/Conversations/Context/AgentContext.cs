using System.Text;
using Agentry.Agents;
using Microsoft.Extensions.AI;

namespace Agentry.Conversations.Context;

/// <summary>Everything one model call receives: system prompt, messages and tools, plus the tool rounds of this turn.</summary>
public sealed class AgentContext
{
    public StringBuilder Instructions { get; } = new();
    public List<ChatMessage> Messages { get; } = [];
    public List<AITool> Tools { get; } = [];

    /// <summary>The knowledge passages given to the agent as numbered sources (<see cref="Knowledge.KnowledgeContext"/>).</summary>
    public IReadOnlyList<Knowledge.KnowledgeSource> Sources { get; set; } = [];

    /// <summary>The user's memories the agent was given (<see cref="Memory.MemoryContext"/>).</summary>
    public IReadOnlyList<Memory.RecalledMemory> Memories { get; set; } = [];

    public string SystemPrompt => Instructions.ToString();

    /// <summary>
    /// The system prompt as a model call sends it: the same message for every call of a turn's tool rounds (made again
    /// only if the instructions grew since), so its tokens, a few thousand with knowledge, are counted once a turn
    /// (the turn remembers a message's count, Turn.TokensOf) rather than once a call.
    /// </summary>
    public ChatMessage SystemMessage
    {
        get
        {
            if (_systemMessage is null || _systemMessageLength != Instructions.Length)
                (_systemMessage, _systemMessageLength) = (new ChatMessage(ChatRole.System, SystemPrompt), Instructions.Length);
            return _systemMessage;
        }
    }

    ChatMessage? _systemMessage;
    int _systemMessageLength;

    /// <summary>Where each provider's contribution is: its span of the system prompt, its messages and its tools.</summary>
    public List<ContextPart> Parts { get; } = [];

    /// <summary>A model's tool calls and their results, so its next call sees what it asked for and what came back.</summary>
    public void AddToolRound(ToolRound round)
    {
        Messages.Add(new ChatMessage(ChatRole.Assistant, [.. round.Calls]));
        Messages.Add(new ChatMessage(ChatRole.Tool, [.. round.Results]));
    }
}

/// <summary>One provider's contribution: a span of the system prompt (start, length), of the messages and of the tools.</summary>
public sealed record ContextPart(string Name, int InstructionsStart, int InstructionsLength, int FirstMessage, int MessageCount, int FirstTool, int ToolCount);
