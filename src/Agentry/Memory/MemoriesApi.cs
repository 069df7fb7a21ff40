using Agentry.Api;
using Agentry.Audit;
using Agentry.Data;
using Agentry.Security;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Agentry.Memory;

/// <summary>A user's memories: read by whoever may see the user's conversations, written and deleted by a chat key that may.</summary>
public static class MemoriesApi
{
    public static IEndpointRouteBuilder MapMemoryApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/users/{userId}/memories").WithTags("Users");
        group.MapGet("/", List).WithName("ListMemories").RequireAuthorization(Policies.ReadConversations).ProducesProblem(StatusCodes.Status404NotFound)
            .WithSummary("What agents remember about a user, oldest first (superseded memories only with includeSuperseded=true).");
        group.MapPost("/", Add).Validated().WithName("AddMemory").RequireAuthorization(Policies.Chat).ProducesProblem(StatusCodes.Status404NotFound)
            .WithSummary("Add a fact about the user (author 'user', or 'operator' for an admin key); 'supersedes' retires the memory it corrects.");
        group.MapDelete("/{memoryId}", Delete).WithName("DeleteMemory").RequireAuthorization(Policies.Chat).ProducesProblem(StatusCodes.Status404NotFound)
            .WithSummary("Delete one memory and its vector.");
        return app;
    }

    static async Task<Results<Ok<Page<MemoryDto>>, ValidationProblem, ProblemHttpResult>> List(
        string userId, string? agentId, bool? includeSuperseded, int? limit, string? cursor, HttpContext http, AgentryDbContext db,
        IOptions<SecurityOptions> security, CancellationToken ct)
    {
        if (!Pagination.TryGetLimit(limit, out var take, out var errors)) return Problems.Validation(errors.ToDictionary());
        if (!UserAccess.IsValidUserId(userId) || !await UserAccess.CanUseAsync(db, http.GetCaller(), security.Value, userId, ct)) return UserNotFound(userId);
        var all = includeSuperseded == true;
        var rows = await db.Memories.AsNoTracking()
            .Where(m => m.UserId == userId && (all || m.SupersededAt == null) && (agentId == null || m.AgentId == agentId))
            .Where(m => cursor == null || string.Compare(m.Id, cursor) > 0)
            .OrderBy(m => m.Id).Take(take + 1).ToListAsync(ct);
        return TypedResults.Ok(Pagination.ToPage(rows, take, MemoryDto.From, m => m.Id));
    }

    static async Task<Results<Created<MemoryDto>, ProblemHttpResult>> Add(
        string userId, NewMemoryRequest request, HttpContext http, AgentryDbContext db, UserMemories memories, IOptions<SecurityOptions> security, CancellationToken ct)
    {
        var caller = http.GetCaller();
        if (!UserAccess.IsValidUserId(userId) || !await UserAccess.CanUseAsync(db, caller, security.Value, userId, ct)) return UserNotFound(userId);
        if (request.Supersedes is { } old && !await memories.IsCurrentAsync(userId, request.AgentId, old, ct))
            return Problems.NotFound(ProblemTypes.MemoryNotFound, $"User '{userId}' has no current memory '{old}'{(request.AgentId is null ? " shared across agents" : $" of agent '{request.AgentId}'")} to supersede.");
        var author = caller?.IsAdmin == true ? MemoryAuthors.Operator : MemoryAuthors.User;
        var memory = await memories.AddAsync(userId, request.Text.Trim(), request.AgentId, author, request.Supersedes, AuditActor.From(http), caller?.KeyId ?? "", ct);
        return TypedResults.Created($"/v1/users/{Uri.EscapeDataString(userId)}/memories/{memory.Id}", MemoryDto.From(memory));
    }

    static async Task<Results<NoContent, ProblemHttpResult>> Delete(
        string userId, string memoryId, HttpContext http, AgentryDbContext db, UserMemories memories, IOptions<SecurityOptions> security, CancellationToken ct)
    {
        if (!UserAccess.IsValidUserId(userId) || !await UserAccess.CanUseAsync(db, http.GetCaller(), security.Value, userId, ct)) return UserNotFound(userId);
        return await memories.DeleteAsync(userId, memoryId, AuditActor.From(http), ct)
            ? TypedResults.NoContent()
            : Problems.NotFound(ProblemTypes.MemoryNotFound, $"User '{userId}' has no memory '{memoryId}'.");
    }

    public static ProblemHttpResult UserNotFound(string userId) =>
        Problems.NotFound(ProblemTypes.UserNotFound, $"No conversation or memory of user '{userId}' is visible to this API key.");
}
