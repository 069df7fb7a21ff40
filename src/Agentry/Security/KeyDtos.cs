using Agentry.Api;

namespace Agentry.Security;

public sealed record CreateKeyRequest(
    string Name, string[] Scopes, DateTimeOffset? ExpiresAt, int? RequestsPerMinute, int? ConcurrentRequests, int? TokensPerMinute, int? TokensPerDay)
    : IValidatable
{
    public void Validate(ValidationErrors errors)
    {
        errors.Required("name", Name, 100);
        if (Scopes is null || Scopes.Length == 0) errors.Add("scopes", $"At least one of: {string.Join(", ", Security.Scopes.All)}.");
        else
            for (var i = 0; i < Scopes.Length; i++)
                if (!Security.Scopes.IsKnown(Scopes[i])) errors.Add($"scopes[{i}]", $"Unknown scope '{Scopes[i]}'; use {string.Join(", ", Security.Scopes.All)}.");
        if (ExpiresAt is { } at && at <= DateTimeOffset.UtcNow) errors.Add("expiresAt", "Must be in the future.");
        errors.Range("requestsPerMinute", RequestsPerMinute, 1, 1_000_000);
        errors.Range("concurrentRequests", ConcurrentRequests, 1, 10_000);
        errors.Range("tokensPerMinute", TokensPerMinute, 1, 1_000_000_000);
        errors.Range("tokensPerDay", TokensPerDay, 1, 2_000_000_000);
    }
}

public sealed record KeyDto(
    string Id, string Name, string Prefix, IReadOnlyList<string> Scopes, string Status, DateTimeOffset? ExpiresAt,
    int? RequestsPerMinute, int? ConcurrentRequests, int? TokensPerMinute, int? TokensPerDay,
    DateTimeOffset CreatedAt, DateTimeOffset? LastUsedAt, DateTimeOffset? RevokedAt)
{
    public static KeyDto From(ApiKey k, DateTimeOffset now) => new(
        k.Id, k.Name, k.Prefix, k.Scopes.Split(' ', StringSplitOptions.RemoveEmptyEntries),
        k.RevokedAt is not null ? "revoked" : k.ExpiresAt <= now ? "expired" : "active",
        k.ExpiresAt, k.RequestsPerMinute, k.ConcurrentRequests, k.TokensPerMinute, k.TokensPerDay, k.CreatedAt, k.LastUsedAt, k.RevokedAt);
}

/// <summary>A key with its secret: returned once, by create and rotate, and never again.</summary>
public sealed record CreatedKeyDto(KeyDto Key, string Secret);

/// <summary>The key making the request, as <c>GET /v1/me</c> shows it.</summary>
public sealed record CallerDto(string Id, string Name, string Prefix, IReadOnlyList<string> Scopes)
{
    public static CallerDto From(Caller caller) => new(caller.KeyId, caller.KeyName, caller.Prefix, [.. caller.Scopes.Order(StringComparer.Ordinal)]);
}
