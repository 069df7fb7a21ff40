using Agentry.Api;
using Agentry.Conversations;
using Agentry.Data;
using Agentry.Security;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace Agentry.Approvals;

public sealed record ApprovalDto(
    string Id, string ConversationId, string AgentId, string ToolName, System.Text.Json.JsonElement Arguments, string RuleId, string Status,
    DateTimeOffset CreatedAt, DateTimeOffset? DecidedAt, string? DecidedBy, string? Note)
{
    public static ApprovalDto From(Approval a) => new(a.Id, a.ConversationId, a.AgentId, a.ToolName,
        System.Text.Json.JsonDocument.Parse(a.Arguments).RootElement.Clone(), a.RuleId, a.Status, a.CreatedAt, a.DecidedAt, a.DecidedBy, a.Note);
}

public sealed record ApprovalDecision(string? Note) : IValidatable
{
    public void Validate(ValidationErrors errors) => errors.MaxLength("note", Note, 1_000);
}

/// <summary>Human decisions on tool calls that a rule held (e.g. refunds over a limit). Deciding continues the stopped turn.</summary>
public static class ApprovalsApi
{
    public static RouteGroupBuilder MapApprovalsApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/admin/approvals").WithTags("Approvals").RequireAuthorization(Policies.Admin);
        group.MapGet("/", List).WithName("ListApprovals").WithSummary("Held tool calls, newest first; filter with status=pending|approved|rejected (an eval run's held calls only with status=eval).");
        group.MapGet("/{approvalId}", Get).WithName("GetApproval").ProducesProblem(StatusCodes.Status404NotFound)
            .WithSummary("One held tool call with its arguments, rule and decision.");
        group.MapPost("/{approvalId}/approve", Approve).Validated().WithName("ApproveToolCall").Continues()
            .WithSummary("Approve: the tool runs and the agent answers; returns the continued turn.");
        group.MapPost("/{approvalId}/reject", Reject).Validated().WithName("RejectToolCall").Continues()
            .WithSummary("Reject: the agent is told the call was refused and answers; returns the continued turn.");
        return group;
    }

    static async Task<Results<Ok<Page<ApprovalDto>>, ValidationProblem>> List(string? status, int? limit, string? cursor, AgentryDbContext db, CancellationToken ct)
    {
        if (!Pagination.TryGetLimit(limit, out var take, out var errors)) return Problems.Validation(errors.ToDictionary());
        var query = db.Approvals.AsNoTracking();
        // An eval run's held calls are its record (status=eval), not decisions anyone is asked for.
        query = status is null ? query.Where(a => a.Status != ApprovalStatus.Eval) : query.Where(a => a.Status == status);
        if (cursor is not null) query = query.Where(a => string.Compare(a.Id, cursor) < 0);
        var rows = await query.OrderByDescending(a => a.Id).Take(take + 1).ToListAsync(ct);
        return TypedResults.Ok(Pagination.ToPage(rows, take, ApprovalDto.From, a => a.Id));
    }

    static async Task<Results<Ok<ApprovalDto>, ProblemHttpResult>> Get(string approvalId, AgentryDbContext db, CancellationToken ct) =>
        await db.Approvals.AsNoTracking().FirstOrDefaultAsync(a => a.Id == approvalId, ct) is { } approval
            ? TypedResults.Ok(ApprovalDto.From(approval))
            : NotFound(approvalId);

    static Task<Results<Ok<TurnDto>, ProblemHttpResult>> Approve(string approvalId, ApprovalDecision decision, AgentryDbContext db, TurnRunner runner, HttpContext http, CancellationToken ct) =>
        DecideAsync(approvalId, approved: true, decision.Note, db, runner, http, ct);

    static Task<Results<Ok<TurnDto>, ProblemHttpResult>> Reject(string approvalId, ApprovalDecision decision, AgentryDbContext db, TurnRunner runner, HttpContext http, CancellationToken ct) =>
        DecideAsync(approvalId, approved: false, decision.Note, db, runner, http, ct);

    static async Task<Results<Ok<TurnDto>, ProblemHttpResult>> DecideAsync(
        string approvalId, bool approved, string? note, AgentryDbContext db, TurnRunner runner, HttpContext http, CancellationToken ct)
    {
        var approval = await db.Approvals.FirstOrDefaultAsync(a => a.Id == approvalId, ct);
        if (approval is null) return NotFound(approvalId);
        if (approval.Status != ApprovalStatus.Pending)
            return Problems.Conflict(ProblemTypes.ApprovalDecided, $"Approval '{approvalId}' was already {approval.Status}.");
        return TypedResults.Ok(await runner.ResumeAsync(approval, new ApprovalVerdict(approved, note,
            http.GetCaller() ?? throw new InvalidOperationException("An approval was decided without an authenticated caller.")), ct));
    }

    /// <summary>A decision continues the turn: the approval may be unknown or decided, the conversation busy, the provider failing.</summary>
    static RouteHandlerBuilder Continues(this RouteHandlerBuilder endpoint) =>
        endpoint.ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict).ProducesProblem(StatusCodes.Status422UnprocessableEntity)
            .ProducesProblem(StatusCodes.Status502BadGateway).ProducesProblem(StatusCodes.Status503ServiceUnavailable).ProducesProblem(StatusCodes.Status504GatewayTimeout);

    static ProblemHttpResult NotFound(string approvalId) => Problems.NotFound(ProblemTypes.ApprovalNotFound, $"No approval with id '{approvalId}' exists.");
}
