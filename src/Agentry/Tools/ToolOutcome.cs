using Microsoft.Extensions.AI;

namespace Agentry.Tools;

/// <summary>How a tool call ended. <see cref="ResultForModel"/> is what the model sees; errors are results too.</summary>
public sealed record ToolOutcome(string Outcome, string ResultForModel, int DurationMs)
{
    public const string Success = "success";
    public const string Error = "error";
    public const string Timeout = "timeout";
    public const string Denied = "denied";
    public const string UnknownTool = "unknown-tool";
    public const string LimitReached = "limit-reached";
    /// <summary>A side-effecting call repeated with the same arguments in a conversation: the first result, not a second effect.</summary>
    public const string AlreadyDone = "already-done";
    /// <summary>The tool ran, but an input rule (checkToolResults) kept its result from the model.</summary>
    public const string Withheld = "withheld";
    /// <summary>A rule or policy held the call for a human decision (Approvals/); the turn stopped there.</summary>
    public const string PendingApproval = "pending-approval";
    /// <summary>In the ledger only: reserved before the tool runs, until the turn's commit records how it ended.</summary>
    public const string Running = "running";

    /// <summary>Whether the text came from the tool (its answer or its error), as opposed to Agentry saying why it did not run.</summary>
    public bool FromTool => Outcome is Success or Error or AlreadyDone or Tools.ToolExecution.DryRun;

    /// <summary>The result as the model receives it: the tool's own text fenced as data (Conversations/Context/UntrustedData.cs).</summary>
    public FunctionResultContent ForModel(FunctionCallContent call) =>
        new(call.CallId, FromTool ? Conversations.Context.UntrustedData.Wrap($"tool {call.Name}", ResultForModel) : ResultForModel);

    /// <summary>Agentry refused or skipped the call: the model reads why.</summary>
    public static ToolOutcome NotRun(string outcome, string reason) => new(outcome, reason, 0);
}
