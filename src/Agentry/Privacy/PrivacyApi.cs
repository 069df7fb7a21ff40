using Agentry.Api;
using Agentry.Audit;
using Agentry.Data;
using Agentry.Security;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace Agentry.Privacy;

public static class PrivacyApi
{
    public static IEndpointRouteBuilder MapPrivacyApi(this IEndpointRouteBuilder app)
    {
        app.MapDelete("/v1/users/{userId}", Forget).WithTags("Users").WithName("ForgetUser").RequireAuthorization(Policies.Chat)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .WithSummary("Forget a user: delete their conversations, messages, summaries, approvals, tool calls, memories and vectors; answers with the counts. " +
                "A non-admin key may do it only when it owns every conversation of the user.");
        return app;
    }

    static async Task<Results<Ok<ForgottenUser>, ProblemHttpResult>> Forget(
        string userId, HttpContext http, AgentryDbContext db, UserErasure erasure, IOptions<SecurityOptions> security, CancellationToken ct)
    {
        if (!UserAccess.IsValidUserId(userId) || !await UserAccess.CanForgetAsync(db, http.GetCaller(), security.Value, userId, ct))
            return Memory.MemoriesApi.UserNotFound(userId);
        var forgotten = await erasure.ForgetAsync(userId, AuditActor.From(http), ct);
        return forgotten.Conversations == 0 && forgotten.Memories == 0 ? Memory.MemoriesApi.UserNotFound(userId) : TypedResults.Ok(forgotten);
    }
}
