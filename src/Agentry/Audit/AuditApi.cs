using System.Text.Json;
using Agentry.Api;
using Agentry.Data;
using Agentry.Security;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

namespace Agentry.Audit;

public sealed record AuditEventDto(
    long Id, DateTimeOffset Time, string Actor, string? ClientIp, string Action, string? Target, string Outcome, string? TraceId,
    int Count, JsonElement? Detail, string Hash)
{
    public static AuditEventDto From(AuditEvent e) => new(e.Id, e.Time, e.Actor, e.ClientIp, e.Action, e.Target, e.Outcome, e.TraceId, e.Count,
        e.Detail is null ? null : JsonDocument.Parse(e.Detail).RootElement.Clone(), e.Hash);
}

public static class AuditApi
{
    public static RouteGroupBuilder MapAuditApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/admin/audit").WithTags("Audit").RequireAuthorization(Policies.Admin);
        group.MapGet("/", Query).WithName("QueryAudit").WithSummary("Audit events, newest first, filtered by time, action and actor.");
        group.MapGet("/verify", Verify).WithName("VerifyAudit").WithSummary("Check the hash chain: detects edited, deleted or reordered events.");
        return group;
    }

    static async Task<Results<Ok<Page<AuditEventDto>>, ValidationProblem>> Query(
        DateTimeOffset? from, DateTimeOffset? to, string? action, string? actor, int? limit, string? cursor, AgentryDbContext db, CancellationToken ct)
    {
        if (!Pagination.TryGetLimit(limit, out var take, out var errors)) return Problems.Validation(errors.ToDictionary());
        long before = long.MaxValue;
        if (cursor is not null && !long.TryParse(cursor, out before)) return Problems.Validation("cursor", "Not a cursor returned by this endpoint.");
        var query = db.AuditEvents.AsNoTracking().Where(e => e.Id < before);
        if (action is not null) query = query.Where(e => e.Action == action);
        if (actor is not null) query = query.Where(e => e.Actor == actor);
        // Stored as fixed-width UTC text on SQLite, so these comparisons are time comparisons there too.
        if (from is { } start) query = query.Where(e => e.Time >= start);
        if (to is { } end) query = query.Where(e => e.Time < end);
        var rows = await query.OrderByDescending(e => e.Id).Take(take + 1).ToListAsync(ct);
        return TypedResults.Ok(Pagination.ToPage(rows, take, AuditEventDto.From, e => e.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)));
    }

    static async Task<Ok<AuditVerification>> Verify(AgentryDbContext db, CancellationToken ct) =>
        TypedResults.Ok(await AuditChain.VerifyAsync(db, ct));
}
