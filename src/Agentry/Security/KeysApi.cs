using Agentry.Api;
using Agentry.Audit;
using Agentry.Conversations;
using Agentry.Data;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;

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

/// <summary>Key management shared by the admin API and the <c>agentry keys</c> command.</summary>
public sealed class ApiKeyManager(AgentryDbContext db, ApiKeyStore store, TimeProvider time)
{
    public async Task<CreatedKeyDto> CreateAsync(CreateKeyRequest request, CancellationToken cancellationToken)
    {
        var secret = ApiKeySecrets.NewSecret();
        var key = new ApiKey
        {
            Id = Ids.New("key"), Name = request.Name.Trim(), Prefix = ApiKeySecrets.DisplayPrefix(secret), Hash = ApiKeySecrets.Hash(secret),
            Scopes = string.Join(' ', request.Scopes.Distinct(StringComparer.Ordinal)), ExpiresAt = request.ExpiresAt,
            RequestsPerMinute = request.RequestsPerMinute, ConcurrentRequests = request.ConcurrentRequests,
            TokensPerMinute = request.TokensPerMinute, TokensPerDay = request.TokensPerDay, CreatedAt = time.GetUtcNow(),
        };
        db.ApiKeys.Add(key);
        await db.SaveChangesAsync(cancellationToken);
        return new CreatedKeyDto(KeyDto.From(key, time.GetUtcNow()), secret);
    }

    /// <summary>Adds a key whose secret the operator chose (the bootstrap admin key).</summary>
    public async Task<ApiKey> ImportAsync(string name, string secret, string scopes, CancellationToken cancellationToken)
    {
        var key = new ApiKey
        {
            Id = Ids.New("key"), Name = name, Prefix = ApiKeySecrets.DisplayPrefix(secret), Hash = ApiKeySecrets.Hash(secret), Scopes = scopes,
            CreatedAt = time.GetUtcNow(),
        };
        db.ApiKeys.Add(key);
        await db.SaveChangesAsync(cancellationToken);
        return key;
    }

    public async Task<List<KeyDto>> ListAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        return (await db.ApiKeys.AsNoTracking().OrderBy(k => k.Id).ToListAsync(cancellationToken)).Select(k => KeyDto.From(k, now)).ToList();
    }

    /// <summary>Revokes at once; null when no such key.</summary>
    public async Task<KeyDto?> RevokeAsync(string id, CancellationToken cancellationToken)
    {
        var key = await db.ApiKeys.FirstOrDefaultAsync(k => k.Id == id, cancellationToken);
        if (key is null) return null;
        key.RevokedAt ??= time.GetUtcNow();
        await db.SaveChangesAsync(cancellationToken);
        store.Invalidate();
        return KeyDto.From(key, time.GetUtcNow());
    }

    /// <summary>Gives the key a new secret; the old one stops working immediately. Null when no such active key.</summary>
    public async Task<CreatedKeyDto?> RotateAsync(string id, CancellationToken cancellationToken)
    {
        var key = await db.ApiKeys.FirstOrDefaultAsync(k => k.Id == id && k.RevokedAt == null, cancellationToken);
        if (key is null) return null;
        var secret = ApiKeySecrets.NewSecret();
        key.Hash = ApiKeySecrets.Hash(secret);
        key.Prefix = ApiKeySecrets.DisplayPrefix(secret);
        await db.SaveChangesAsync(cancellationToken);
        store.Invalidate();
        return new CreatedKeyDto(KeyDto.From(key, time.GetUtcNow()), secret);
    }
}

public static class KeysApi
{
    public static RouteGroupBuilder MapKeysApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/admin/keys").WithTags("Keys").RequireAuthorization(Policies.Admin);
        group.MapPost("/", Create).Validated().WithName("CreateKey").WithSummary("Create a key; the secret is in this response only.");
        group.MapGet("/", List).WithName("ListKeys");
        group.MapDelete("/{keyId}", Revoke).WithName("RevokeKey");
        group.MapPost("/{keyId}/rotate", Rotate).WithName("RotateKey").WithSummary("New secret for the key; the old one stops working at once.");
        return group;
    }

    static async Task<Created<CreatedKeyDto>> Create(CreateKeyRequest request, ApiKeyManager keys, AuditLog audit, HttpContext http, CancellationToken ct)
    {
        var created = await keys.CreateAsync(request, ct);
        audit.Record(http, AuditActions.KeyCreated, $"key:{created.Key.Id}", detail: new { created.Key.Name, created.Key.Prefix, created.Key.Scopes });
        return TypedResults.Created($"/v1/admin/keys/{created.Key.Id}", created);
    }

    static async Task<Ok<Page<KeyDto>>> List(ApiKeyManager keys, CancellationToken ct)
    {
        var all = await keys.ListAsync(ct);
        return TypedResults.Ok(new Page<KeyDto>(all, null));
    }

    static async Task<Results<Ok<KeyDto>, ProblemHttpResult>> Revoke(string keyId, ApiKeyManager keys, AuditLog audit, HttpContext http, CancellationToken ct)
    {
        if (await keys.RevokeAsync(keyId, ct) is not { } key) return Problems.NotFound(ProblemTypes.KeyNotFound, $"No key with id '{keyId}' exists.");
        audit.Record(http, AuditActions.KeyRevoked, $"key:{keyId}", detail: new { key.Name, key.Prefix });
        return TypedResults.Ok(key);
    }

    static async Task<Results<Ok<CreatedKeyDto>, ProblemHttpResult>> Rotate(string keyId, ApiKeyManager keys, AuditLog audit, HttpContext http, CancellationToken ct)
    {
        if (await keys.RotateAsync(keyId, ct) is not { } rotated)
            return Problems.NotFound(ProblemTypes.KeyNotFound, $"No active key with id '{keyId}' exists.");
        audit.Record(http, AuditActions.KeyRotated, $"key:{keyId}", detail: new { rotated.Key.Name, rotated.Key.Prefix });
        return TypedResults.Ok(rotated);
    }
}
