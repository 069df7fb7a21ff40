using Agentry.Conversations;
using Agentry.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;

namespace Agentry.Tools;

/// <summary>A policy's verdict on a call and, when it was allowed to run, its reservation in the ledger.</summary>
public sealed record PolicyDecision(PolicyVerdict Verdict, ToolCall? Reservation)
{
    public static PolicyDecision Allowed { get; } = new(PolicyVerdict.Allowed, null);
}

/// <summary>
/// Decides calls by their tool's policy (<see cref="ToolPolicy"/>) against the ledger of earlier calls
/// (<see cref="ToolCall"/>). A call that may run is reserved in the same transaction that read the totals, under a lock
/// per tool (PostgreSQL: an advisory lock every instance takes; SQLite: the write lock its single instance takes), so
/// two turns in parallel, in different conversations or on different instances, cannot both fit under one cap.
/// </summary>
public sealed class ToolLedger(AgentryDbContext db, IOptions<ToolOptions> options, TimeProvider time)
{
    static readonly string[] Counted = [ToolOutcome.Running, ToolOutcome.Success, ToolOutcome.Timeout, ToolOutcome.Withheld];

    public ToolPolicy? PolicyFor(string tool) => options.Value.PolicyFor(tool);

    /// <summary>
    /// The policy's verdict on <paramref name="call"/> (arguments already normalised). Refusals are decided first and
    /// always: a call above <see cref="ToolPolicy.MaxPerCall"/> or without a readable amount is denied even when a rule
    /// would hold it for approval. With <paramref name="reserve"/> (the call is about to run unless the policy says
    /// otherwise) the totals are checked and, if it may run, the call is reserved in the ledger.
    /// </summary>
    public async Task<PolicyDecision> DecideAsync(Turn turn, FunctionCallContent call, string canonicalArguments, bool reserve, CancellationToken cancellationToken)
    {
        if (PolicyFor(call.Name) is not { } policy) return PolicyDecision.Allowed;
        var arguments = call.Arguments ?? new Dictionary<string, object?>();
        decimal? amount = null;
        if (policy.AmountArgument is { } argument)
        {
            var reading = ToolArguments.Amount(arguments, argument);
            if (reading.Problem is { } problem)
                return Deny($"{call.Name} needs its amount as a number: {problem}. The call was refused.");
            amount = reading.Value;
            if (policy.MaxPerCall is { } max && amount > max)
                return Deny($"{call.Name} of {PolicyVerdict.Money(amount.Value)} is above the limit of {PolicyVerdict.Money(max)} per call.");
        }
        // An eval reserves nothing (its calls run dry and stay out of the ledger), but a call's own amount is judged
        // as always: above ApprovalAbove, or alone above a total cap, it is held. Totals of earlier calls are not counted.
        if (turn.IsEval && amount is { } single && Approval(policy, call.Name, single, [], turn, DayStart()) is { } held) return new PolicyDecision(held, null);
        if (!reserve) return PolicyDecision.Allowed;

        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        await db.LockAsync(SharedLock.ToolCalls, call.Name, cancellationToken);
        var earlier = await EarlierAsync(turn, call.Name, cancellationToken);
        if (policy.OncePerConversation && earlier.FirstOrDefault(c => c.ConversationId == turn.Conversation.Id && c.Arguments == canonicalArguments) is { } same)
            return new PolicyDecision(new PolicyVerdict(PolicyVerdict.AlreadyDone, $"The same {call.Name} call was already made in this conversation.",
                await ResultOfAsync(turn, same, cancellationToken)), null);
        if (amount is { } value && Approval(policy, call.Name, value, earlier, turn, DayStart()) is { } approval)
            return new PolicyDecision(approval, null);

        var reservation = Row(turn, call, canonicalArguments);
        db.ToolCalls.Add(reservation);
        await db.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        // The turn carries the row from here; its commit records how the call ended (TurnStore).
        db.Entry(reservation).State = EntityState.Detached;
        return new PolicyDecision(PolicyVerdict.Allowed, reservation);
    }

    /// <summary>
    /// A call a human approved is reserved without the totals (the approval is the exception to them); a refusal still
    /// applies (<see cref="ToolPolicy.MaxPerCall"/>, an unreadable amount), as it would have before the call was held.
    /// </summary>
    public async Task<PolicyDecision> ReserveApprovedAsync(Turn turn, FunctionCallContent call, string canonicalArguments, CancellationToken cancellationToken)
    {
        var decision = await DecideAsync(turn, call, canonicalArguments, reserve: false, cancellationToken);
        if (decision.Verdict.Kind == PolicyVerdict.Deny || PolicyFor(call.Name) is null) return decision;
        var reservation = Row(turn, call, canonicalArguments);
        db.ToolCalls.Add(reservation);
        await db.SaveChangesAsync(CancellationToken.None);
        db.Entry(reservation).State = EntityState.Detached;
        return new PolicyDecision(PolicyVerdict.Allowed, reservation);
    }

    /// <summary>
    /// A ledger row for a call of this turn, with the amount its policy reads (when readable); stored by the turn's
    /// commit unless it was reserved before the tool ran, with the outcome the call ends with.
    /// </summary>
    public ToolCall Row(Turn turn, FunctionCallContent call, string canonicalArguments) => new()
    {
        Id = Ids.New("tc"), ConversationId = turn.Conversation.Id, UserId = turn.Conversation.UserId, KeyId = turn.Caller.KeyId, AgentId = turn.Agent.Id,
        Tool = call.Name, CallId = call.CallId, Arguments = canonicalArguments, Outcome = ToolOutcome.Running, CreatedAt = time.GetUtcNow(),
        Amount = PolicyFor(call.Name)?.AmountArgument is { } argument
            ? ToolArguments.Amount(call.Arguments ?? new Dictionary<string, object?>(), argument).Value
            : null,
    };

    /// <summary>
    /// Calls of the tool that may have taken effect, in this conversation (ever) or today for this end user or this key.
    /// Without a userId the end user is the API key, as in the policy's description.
    /// </summary>
    async Task<List<ToolCall>> EarlierAsync(Turn turn, string tool, CancellationToken cancellationToken)
    {
        var dayStart = DayStart();
        var (conversationId, userId, keyId) = (turn.Conversation.Id, turn.Conversation.UserId, turn.Caller.KeyId);
        return await db.ToolCalls.AsNoTracking()
            .Where(c => c.Tool == tool && Counted.Contains(c.Outcome))
            .Where(c => c.ConversationId == conversationId || (c.CreatedAt >= dayStart && (c.KeyId == keyId || (userId != null && c.UserId == userId))))
            .ToListAsync(cancellationToken);
    }

    static PolicyVerdict? Approval(ToolPolicy policy, string tool, decimal amount, List<ToolCall> earlier, Turn turn, DateTimeOffset dayStart)
    {
        var money = PolicyVerdict.Money(amount);
        if (policy.ApprovalAbove is { } threshold && amount > threshold)
            return new PolicyVerdict(PolicyVerdict.RequireApproval, $"{tool} of {money} is above {PolicyVerdict.Money(threshold)}, which needs a supervisor's approval.");
        var inConversation = earlier.Where(c => c.ConversationId == turn.Conversation.Id).Sum(c => c.Amount ?? 0);
        if (policy.MaxTotalPerConversation is { } perConversation && inConversation + amount > perConversation)
            return Over("in this conversation", inConversation + amount, perConversation);
        var userId = turn.Conversation.UserId;
        var today = earlier.Where(c => c.CreatedAt >= dayStart).ToList();
        var forUser = today.Where(c => userId is not null ? c.UserId == userId : c.UserId is null && c.KeyId == turn.Caller.KeyId).Sum(c => c.Amount ?? 0);
        if (policy.MaxTotalPerUserPerDay is { } perUser && forUser + amount > perUser)
            return Over("for this user today", forUser + amount, perUser);
        var forKey = today.Where(c => c.KeyId == turn.Caller.KeyId).Sum(c => c.Amount ?? 0);
        if (policy.MaxTotalPerKeyPerDay is { } perKey && forKey + amount > perKey)
            return Over("for this API key today", forKey + amount, perKey);
        return null;

        PolicyVerdict Over(string scope, decimal total, decimal limit) => new(PolicyVerdict.RequireApproval,
            $"{tool} calls {scope} would reach {PolicyVerdict.Money(total)}, above {PolicyVerdict.Money(limit)} without approval.");
    }

    async Task<string> ResultOfAsync(Turn turn, ToolCall earlier, CancellationToken cancellationToken)
    {
        const string unknown = "(its result was not recorded)";
        if (earlier.MessageId is not { } messageId) return turn.ToolResultOf(earlier.Id) ?? unknown;
        return await db.Messages.AsNoTracking().Where(m => m.Id == messageId).Select(m => m.Content).FirstOrDefaultAsync(cancellationToken) ?? unknown;
    }

    /// <summary>Daily totals are per UTC day.</summary>
    DateTimeOffset DayStart() => new(time.GetUtcNow().UtcDateTime.Date, TimeSpan.Zero);

    static PolicyDecision Deny(string reason) => new(new PolicyVerdict(PolicyVerdict.Deny, reason), null);
}
