using Agentry.Api;
using Agentry.Conversations;
using Agentry.Conversations.Context;
using Agentry.Models;
using Microsoft.Extensions.AI;

namespace Agentry.Agents;

/// <summary>
/// Runs a workflow agent: <c>sequential</c> passes each member's output to the next; <c>group</c> lets members take
/// turns (round-robin) on a shared transcript until one says the <c>until</c> phrase or the rounds run out. Each member
/// works through the same <see cref="AgentLoop"/> as any agent; the conversation stays with the workflow.
/// </summary>
public sealed class WorkflowRunner(AgentCatalog agents, ModelCatalog models, AgentLoop agentLoop)
{
    public async Task<string> RunAsync(Turn turn, WorkflowOptions workflow, TurnEvents events, CancellationToken cancellationToken)
    {
        var workflowAgent = turn.Agent;
        turn.KeepConversationWith(workflowAgent.Id);
        var members = new List<AgentDefinition>();
        foreach (var id in workflow.Agents)
            members.Add((await agents.FindAsync(id, cancellationToken))?.Definition ?? throw Problems.AgentNotFound(id));

        var conversationSoFar = turn.History.ToList();
        var contributions = new List<(string Agent, string Text)>();
        var rounds = workflow.Type == WorkflowOptions.Sequential ? members.Count : workflow.MaxRounds;
        for (var round = 0; round < rounds; round++)
        {
            var agent = members[round % members.Count];
            turn.SwitchTo(agent, models.Resolve(turn.ModelFor(agent)), handoff: null);
            events.Emit(TurnEvent.WorkflowStep, new { workflow = workflowAgent.Id, step = round + 1, agentId = agent.Id });
            var before = turn.Produced.Count;
            await agentLoop.RunAsync(turn, new ContextRequest(turn, agent)
            {
                Note = $"## Workflow\nYou are step {round + 1} of the '{workflowAgent.Name}' workflow ({workflow.Type}: {string.Join(", ", workflow.Agents)}). Do your part; others do theirs.",
                OfferHandoffs = false, // members answer; they do not hand off
                Transcript = Transcript(workflow, agent, conversationSoFar, contributions),
            }, resumed: null, events, cancellationToken);
            if (turn.Ended) return turn.End!.FinishReason;

            var said = turn.Produced.Skip(before).LastOrDefault(m => m.Role == MessageRoles.Assistant)?.Content ?? "";
            contributions.Add((agent.Id, said));
            if (workflow.Type == WorkflowOptions.Group && workflow.Until is { Length: > 0 } until && said.Contains(until, StringComparison.OrdinalIgnoreCase))
                return "workflow_done";
        }
        return workflow.Type == WorkflowOptions.Group ? "max_rounds" : "stop";
    }

    /// <summary>Sequential members read the previous member's output; group members read everyone's, their own as their own.</summary>
    static List<ChatMessage> Transcript(WorkflowOptions workflow, AgentDefinition agent, List<ChatMessage> conversation, List<(string Agent, string Text)> contributions)
    {
        var transcript = conversation.ToList();
        if (workflow.Type == WorkflowOptions.Sequential && contributions.Count > 0)
            transcript.Add(new ChatMessage(ChatRole.User,
                $"Output of {contributions[^1].Agent}:\n{UntrustedData.Wrap($"agent {contributions[^1].Agent}", contributions[^1].Text)}\n\nTake it from here."));
        else
            foreach (var (member, text) in contributions)
                transcript.Add(member == agent.Id
                    ? new ChatMessage(ChatRole.Assistant, text)
                    : new ChatMessage(ChatRole.User, $"[{member}]\n{UntrustedData.Wrap($"agent {member}", text)}"));
        return transcript;
    }
}
