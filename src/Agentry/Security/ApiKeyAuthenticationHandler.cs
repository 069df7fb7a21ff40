using System.Text.Encodings.Web;
using Agentry.Api;
using Agentry.Audit;
using Agentry.Data;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace Agentry.Security;

/// <summary>
/// Authenticates <c>Authorization: Bearer agk_…</c> or <c>X-API-Key: agk_…</c>. Answers 401 with WWW-Authenticate
/// when the key is missing, unknown, revoked or expired, and 403 when the key lacks the scope; both as problems.
/// </summary>
public sealed class ApiKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> schemeOptions, ILoggerFactory logger, UrlEncoder encoder,
    ApiKeyStore keys, AgentryDbContext db, AuditLog audit, AuthFailureLog failures, IOptions<SecurityOptions> security, TimeProvider time)
    : AuthenticationHandler<AuthenticationSchemeOptions>(schemeOptions, logger, encoder)
{
    public const string SchemeName = "ApiKey";
    const string FailureItem = "agentry.auth-failure";

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        if (!security.Value.Enabled) return Success(Caller.DevelopmentAdmin);

        var secret = ReadSecret(Request);
        if (secret is null) return AuthenticateResult.NoResult();
        if (secret.Length is < 10 or > 200) return Failure("malformed", "The API key is malformed.");

        var key = await keys.FindAsync(secret, db, Context.RequestAborted);
        if (key is null) return Failure("unknown", "The API key is not valid.");
        if (key.RevokedAt is not null) return Failure("revoked", "The API key has been revoked.", key);
        if (key.ExpiresAt is { } expires && expires <= time.GetUtcNow()) return Failure("expired", "The API key has expired.", key);

        keys.MarkUsed(key.Id);
        return Success(Caller.From(key));
    }

    AuthenticateResult Success(Caller caller)
    {
        Context.Features.Set(caller);
        return AuthenticateResult.Success(new AuthenticationTicket(caller.ToPrincipal(SchemeName), SchemeName));
    }

    AuthenticateResult Failure(string reason, string message, ApiKey? key = null)
    {
        Context.Items[FailureItem] = message;
        // Aggregated per client and reason per minute, so a flood of bad keys cannot fill the disk.
        var clientIp = Context.Connection.RemoteIpAddress?.ToString();
        audit.RecordAggregated(AuditActions.AuthFailed, actor: key?.Id ?? "anonymous", clientIp: clientIp, target: key is null ? null : $"key:{key.Id}", outcome: reason);
        failures.Refused(reason, clientIp);
        return AuthenticateResult.Fail(message);
    }

    static string? ReadSecret(HttpRequest request)
    {
        if (request.Headers.Authorization.ToString() is { Length: > 7 } authorization &&
            authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
            return authorization[7..].Trim();
        return request.Headers["X-API-Key"].ToString() is { Length: > 0 } header ? header.Trim() : null;
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        var failure = Context.Items[FailureItem] as string;
        Response.StatusCode = StatusCodes.Status401Unauthorized;
        Response.Headers.WWWAuthenticate = failure is null
            ? "Bearer realm=\"agentry\""
            : $"Bearer realm=\"agentry\", error=\"invalid_token\", error_description=\"{failure}\"";
        await Problems.WriteAsync(Context, 401, ProblemTypes.Unauthorized, "Unauthorized",
            failure ?? "Send an API key as 'Authorization: Bearer agk_…' or 'X-API-Key: agk_…'.");
    }

    protected override async Task HandleForbiddenAsync(AuthenticationProperties properties)
    {
        Response.StatusCode = StatusCodes.Status403Forbidden;
        await Problems.WriteAsync(Context, 403, ProblemTypes.Forbidden, "Forbidden", "This API key does not have the scope this endpoint needs.");
    }

}
