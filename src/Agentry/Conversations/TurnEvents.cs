using System.Threading.Channels;

namespace Agentry.Conversations;

/// <summary>One Server-Sent Event of a streaming turn.</summary>
public sealed record TurnEvent(string Type, object Data)
{
    public const string Delta = "message.delta";
    public const string ToolCall = "tool.call";
    public const string ToolResult = "tool.result";
    public const string Handoff = "handoff";
    public const string Rule = "rule";
    public const string ApprovalPending = "approval.pending";
    public const string WorkflowStep = "workflow.step";
    public const string MessageCompleted = "message.completed";
    public const string TurnCompleted = "turn.completed";
    public const string Error = "error";
}

/// <summary>The data of a <see cref="TurnEvent.Delta"/>: the next piece of the reply, and the agent writing it.</summary>
public sealed record TextDelta(string AgentId, string Text);

/// <summary>
/// Where a turn's steps report what happens as it happens. A streaming turn hands them to the SSE response through a
/// channel, so steps stay plain async methods that return their results; a non-streaming turn drops them.
/// </summary>
public sealed class TurnEvents
{
    readonly Channel<TurnEvent>? _channel;

    TurnEvents(Channel<TurnEvent>? channel) => _channel = channel;

    /// <summary>Events of a non-streaming turn: nobody reads them.</summary>
    public static TurnEvents None { get; } = new(null);

    // Unbounded: a step never waits for a slow reader, and a turn's events are bounded by what the turn produces.
    public static TurnEvents Streaming() => new(Channel.CreateUnbounded<TurnEvent>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true }));

    public bool IsStreaming => _channel is not null;

    public void Emit(string type, object data) => _channel?.Writer.TryWrite(new TurnEvent(type, data));

    internal IAsyncEnumerable<TurnEvent> ReadAllAsync() => _channel!.Reader.ReadAllAsync(CancellationToken.None);

    /// <summary>Ends the stream; with an exception, the reader's next read throws it.</summary>
    internal void Complete(Exception? error = null) => _channel?.Writer.TryComplete(error);
}
