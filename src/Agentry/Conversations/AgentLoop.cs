using System.Runtime.ExceptionServices;
using Agentry.Agents;
using Agentry.Conversations.Context;
using Agentry.Models;
using Agentry.Rules;
using Agentry.Tools;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;

namespace Agentry.Conversations;

/// <summary>
/// The active agent works until it answers: its context is assembled, its model is called, its reply passes the output
/// rules, its tool calls run (or wait for approval) and feed back, and a <c>transfer_to_AGENT</c> call hands the turn to
/// another agent, which carries on in this same loop.
/// </summary>
public sealed class AgentLoop(ContextBuilder contexts, ModelInvoker models, TurnRules rules, Handoffs handoffs, ToolStep tools, IOptions<ToolOptions> toolOptions)
{
    /// <summary>Returns the finish reason once the agent has answered; a failure, a held call or a blocked reply end the turn itself.</summary>
    public async Task<string> RunAsync(Turn turn, TurnEvents events, CancellationToken cancellationToken) =>
        await RunAsync(turn, ContextRequest.For(turn), resumed: null, events, cancellationToken);

    /// <summary>
    /// The agent's context; the knowledge passages it was given become the sources its reply may cite. (They reach a
    /// stream as the reply's citations in message.completed: an event of their own before the model answered would
    /// commit the response before a failed model call could still be a plain problem.)
    /// </summary>
    async Task<AgentContext> BuildAsync(Turn turn, ContextRequest request, CancellationToken cancellationToken)
    {
        var context = await contexts.BuildAsync(request, cancellationToken);
        turn.Consult(context.Sources, context.Memories);
        return context;
    }

    /// <summary>A call of a function the client offered (and that this agent was given, not one of its own tools of the same name).</summary>
    static bool IsClientCall(Turn turn, AgentContext context, FunctionCallContent call) =>
        turn.ClientTools.Count > 0 && context.Tools.FirstOrDefault(t => t.Name == call.Name) is AIFunctionDeclaration declared && turn.ClientTools.Contains(declared);

    /// <summary>Runs with a customised context (a workflow step) or after a held tool call was decided (<paramref name="resumed"/>).</summary>
    public async Task<string> RunAsync(Turn turn, ContextRequest request, ToolRound? resumed, TurnEvents events, CancellationToken cancellationToken)
    {
        var context = await BuildAsync(turn, request, cancellationToken); // Conversations/Context/
        if (resumed is not null) context.AddToolRound(resumed);
        while (true)
        {
            // With output rules a reply is held back until they have run: the user sees only the checked text.
            var holdBack = rules.HoldsOutputBack(turn.Agent);
            var answer = await models.CallAsync(turn, context, holdBack ? TurnEvents.None : events, cancellationToken); // Models/ModelInvoker.cs
            turn.AddUsage(answer.Usage);
            // A failed answer is kept only when the user saw part of it; otherwise it is a failed call, retry-safe for the client.
            if (answer.Text.Length > 0 && (answer.Failure is null || answer.Shown))
            {
                // Also for an answer cut short: what is stored must have passed the rules, so they run even after a cancellation.
                var reply = await rules.ApplyOutputAsync(turn, answer.Text, events, answer.Cancelled ? CancellationToken.None : cancellationToken);
                context.Messages.Add(new ChatMessage(ChatRole.Assistant, reply)); // the model's next call sees what it said before its tool calls
                if (holdBack && answer.Failure is null && !answer.Cancelled) events.Emit(TurnEvent.Delta, new TextDelta(turn.Agent.Id, reply));
            }
            cancellationToken.ThrowIfCancellationRequested();
            if (answer.Failure is { } failure) ExceptionDispatchInfo.Throw(failure);
            if (turn.Ended) return turn.End!.FinishReason;
            if (answer.Calls.Count == 0) return answer.FinishReason ?? "stop";

            // Calls of the client's functions end the turn: the client runs them and continues it with their results. The
            // agent's own calls of the same response are not run then (their results could not go back with the
            // client's); the model asks for them again once it has the client's results.
            var clientCalls = answer.Calls.Where(call => IsClientCall(turn, context, call)).ToList();
            if (clientCalls.Count > 0)
            {
                turn.AwaitClient(clientCalls);
                return turn.End!.FinishReason;
            }

            var results = new List<AIContent>();
            var handedOff = false;
            foreach (var call in answer.Calls)
            {
                if (Handoffs.IsTransfer(call))
                {
                    // Agents/Handoffs.cs: switches to the target when it is allowed, or explains to the model why not.
                    var refusal = await handoffs.TransferAsync(turn, call, events, cancellationToken);
                    if (refusal is null) { handedOff = true; break; }
                    results.Add(refusal);
                    continue;
                }
                results.Add(await tools.RunAsync(turn, call, events, cancellationToken)); // Tools/ToolStep.cs: rules, approvals, limits
                if (turn.Ended) return turn.End!.FinishReason;                            // held for a human decision (Approvals/)
            }

            if (handedOff)
            {
                if (turn.Ended) return turn.End!.FinishReason; // the new agent's input rules blocked the message
                context = await BuildAsync(turn, ContextRequest.For(turn), cancellationToken);
                continue;
            }
            context.AddToolRound(new ToolRound(answer.Calls, results));
            if (turn.CountToolRound() > toolOptions.Value.MaxCallsPerTurn + 1) return "tool_limit";
        }
    }
}
