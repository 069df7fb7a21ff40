using System.Globalization;
using System.Text.Json;
using Agentry.Conversations;
using Agentry.Data;
using Agentry.Rules;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;

namespace Agentry.Tools;

/// <summary>
/// The controls a tool carries wherever it is used: whichever agent calls it, with or without rules of its own. Amounts
/// are read from one argument (<see cref="AmountArgument"/>).
/// </summary>
public sealed class ToolPolicy
{
    /// <summary>The argument holding the amount the limits apply to (<c>amount</c> for refunds).</summary>
    public string? AmountArgument { get; set; }
    /// <summary>A call above this amount waits for a human approval.</summary>
    public decimal? ApprovalAbove { get; set; }
    /// <summary>A call above this amount is refused outright.</summary>
    public decimal? MaxPerCall { get; set; }
    /// <summary>Calls in one conversation may add up to this without approval; a call beyond it waits for a human.</summary>
    public decimal? MaxTotalPerConversation { get; set; }
    /// <summary>The same for one user (the conversation's userId, else its API key) in one UTC day, across conversations.</summary>
    public decimal? MaxTotalPerUserPerDay { get; set; }
    /// <summary>A side effect happens once: the same call with the same arguments again in a conversation gets the first result.</summary>
    public bool OncePerConversation { get; set; }
}

/// <summary>What a tool's policy says about one call.</summary>
public sealed record PolicyVerdict(string Kind, string Reason, string? PreviousResult = null)
{
    public const string Allow = "allow";
    public const string Deny = "deny";
    public const string RequireApproval = "require-approval";
    public const string AlreadyDone = "already-done";

    public static PolicyVerdict Allowed { get; } = new(Allow, "");

    /// <summary>The rule an approval or a refusal is recorded under (<c>tool-policy:refund</c>).</summary>
    public AgentRule AsRule(string tool) => new() { Id = $"tool-policy:{tool}", Description = Reason };
}

/// <summary>Checks a call against its tool's policy, counting what this conversation and this user already spent.</summary>
public sealed class ToolPolicies(AgentryDbContext db, IOptions<ToolOptions> options, TimeProvider time)
{
    public async Task<PolicyVerdict> CheckAsync(Turn turn, FunctionCallContent call, CancellationToken cancellationToken)
    {
        if (!options.Value.Policies.TryGetValue(call.Name, out var policy)) return PolicyVerdict.Allowed;
        var arguments = JsonSerializer.Serialize(call.Arguments ?? new Dictionary<string, object?>());

        var earlier = await EarlierCallsAsync(turn, call.Name, cancellationToken);
        if (policy.OncePerConversation && earlier.FirstOrDefault(c => c.ConversationId == turn.Conversation.Id && c.Arguments == arguments) is { } same)
            return new PolicyVerdict(PolicyVerdict.AlreadyDone, $"The same {call.Name} call was already made in this conversation.", same.Result);

        if (policy.AmountArgument is not { } argument || Amount(call, argument) is not { } amount) return PolicyVerdict.Allowed;
        var money = amount.ToString(CultureInfo.InvariantCulture);
        if (policy.MaxPerCall is { } max && amount > max)
            return new PolicyVerdict(PolicyVerdict.Deny, $"{call.Name} of {money} is above the limit of {max.ToString(CultureInfo.InvariantCulture)} per call.");
        if (policy.ApprovalAbove is { } threshold && amount > threshold)
            return new PolicyVerdict(PolicyVerdict.RequireApproval, $"{call.Name} of {money} is above {threshold.ToString(CultureInfo.InvariantCulture)}, which needs a supervisor's approval.");
        var inConversation = earlier.Where(c => c.ConversationId == turn.Conversation.Id).Sum(c => Amount(c.Arguments, argument));
        if (policy.MaxTotalPerConversation is { } perConversation && inConversation + amount > perConversation)
            return new PolicyVerdict(PolicyVerdict.RequireApproval,
                $"{call.Name} calls in this conversation would reach {(inConversation + amount).ToString(CultureInfo.InvariantCulture)}, above {perConversation.ToString(CultureInfo.InvariantCulture)} without approval.");
        var today = earlier.Sum(c => Amount(c.Arguments, argument));
        if (policy.MaxTotalPerUserPerDay is { } perDay && today + amount > perDay)
            return new PolicyVerdict(PolicyVerdict.RequireApproval,
                $"{call.Name} calls for this user today would reach {(today + amount).ToString(CultureInfo.InvariantCulture)}, above {perDay.ToString(CultureInfo.InvariantCulture)} without approval.");
        return PolicyVerdict.Allowed;
    }

    sealed record EarlierCall(string ConversationId, string Arguments, string Result);

    /// <summary>Successful calls of the tool today by this conversation's user (stored), plus this turn's (not stored yet).</summary>
    async Task<List<EarlierCall>> EarlierCallsAsync(Turn turn, string tool, CancellationToken cancellationToken)
    {
        var start = new DateTimeOffset(time.GetUtcNow().UtcDateTime.Date, TimeSpan.Zero);
        var userId = turn.Conversation.UserId;
        var owner = turn.Conversation.OwnerKeyId;
        var marker = $"\"toolName\":\"{tool}\"";
        var stored = await (
            from m in db.Messages.AsNoTracking()
            join c in db.Conversations.AsNoTracking() on m.ConversationId equals c.Id
            where m.Role == MessageRoles.Tool && m.CreatedAt >= start && m.Metadata != null && m.Metadata.Contains(marker)
                  && (c.Id == turn.Conversation.Id || (userId != null ? c.UserId == userId : owner != null && c.UserId == null && c.OwnerKeyId == owner))
            select new { m.ConversationId, m.Metadata, m.Content }).ToListAsync(cancellationToken);
        var calls = stored.Select(m => (m.ConversationId, m.Metadata!, m.Content))
            .Concat(turn.Produced.Where(m => m.Role == MessageRoles.Tool && m.Metadata is not null).Select(m => (m.ConversationId, m.Metadata!, m.Content)));
        var result = new List<EarlierCall>();
        foreach (var (conversationId, metadata, content) in calls)
        {
            using var parsed = JsonDocument.Parse(metadata);
            var root = parsed.RootElement;
            if (root.GetProperty("toolName").GetString() != tool || root.GetProperty("outcome").GetString() != ToolOutcome.Success) continue;
            result.Add(new EarlierCall(conversationId, root.TryGetProperty("arguments", out var a) ? a.GetRawText() : "{}", content));
        }
        return result;
    }

    static decimal? Amount(FunctionCallContent call, string argument) =>
        call.Arguments?.TryGetValue(argument, out var value) == true ? ToDecimal(value) : null;

    static decimal Amount(string arguments, string argument)
    {
        using var parsed = JsonDocument.Parse(arguments);
        return parsed.RootElement.ValueKind == JsonValueKind.Object && parsed.RootElement.TryGetProperty(argument, out var value) ? ToDecimal(value) ?? 0 : 0;
    }

    static decimal? ToDecimal(object? value) => value switch
    {
        JsonElement { ValueKind: JsonValueKind.Number } e => e.GetDecimal(),
        JsonElement { ValueKind: JsonValueKind.String } e when decimal.TryParse(e.GetString(), NumberStyles.Number, CultureInfo.InvariantCulture, out var d) => d,
        IConvertible c => Convert.ToDecimal(c, CultureInfo.InvariantCulture),
        _ => null,
    };
}
