using System.Security.Claims;

namespace Agentry.Security;

/// <summary>Who is calling: the authenticated key (or the implicit admin when security is off in Development).</summary>
public sealed record Caller(string KeyId, string KeyName, string Prefix, IReadOnlySet<string> Scopes, ApiKeyLimits Limits)
{
    public const string ClaimScope = "scope";
    public const string ClaimKeyId = "key_id";

    public bool IsAdmin => Scopes.Contains(Security.Scopes.Admin);

    public ClaimsPrincipal ToPrincipal(string scheme)
    {
        var claims = new List<Claim> { new(ClaimKeyId, KeyId), new(ClaimTypes.Name, KeyName) };
        claims.AddRange(Scopes.Select(s => new Claim(ClaimScope, s)));
        return new ClaimsPrincipal(new ClaimsIdentity(claims, scheme));
    }

    public static Caller From(ApiKey key) => new(key.Id, key.Name, key.Prefix,
        key.Scopes.Split(' ', StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.Ordinal),
        new ApiKeyLimits(key.RequestsPerMinute, key.ConcurrentRequests, key.TokensPerMinute, key.TokensPerDay));

    public static readonly Caller DevelopmentAdmin =
        new("security-disabled", "security-disabled", "", new HashSet<string> { Security.Scopes.Admin }, new ApiKeyLimits(null, null, null, null));
}

/// <summary>Per-key overrides of the global limits; null means "use the global setting".</summary>
public sealed record ApiKeyLimits(int? RequestsPerMinute, int? ConcurrentRequests, int? TokensPerMinute, int? TokensPerDay);

public static class CallerExtensions
{
    /// <summary>The caller of this request, or null before authentication (or on anonymous endpoints).</summary>
    public static Caller? GetCaller(this HttpContext context) => context.Features.Get<Caller>();
}
