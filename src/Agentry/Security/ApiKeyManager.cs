using Agentry.Audit;
using Agentry.Data;
using Microsoft.EntityFrameworkCore;

namespace Agentry.Security;

/// <summary>
/// Key management shared by the admin API, the <c>agentry keys</c> command and the bootstrap. Each change is saved
/// together with its audit event, so a key that exists always has the event that says who created it.
/// </summary>
public sealed class ApiKeyManager(AgentryDbContext db, ApiKeyStore store, AuditLog audit, TimeProvider time)
{
    /// <summary>Creates a key; the audit event is <c>key.created</c> unless the caller names another (the bootstrap does).</summary>
    public Task<CreatedKeyDto> CreateAsync(CreateKeyRequest request, AuditActor actor, CancellationToken cancellationToken) =>
        CreateAsync(request, actor, AuditActions.KeyCreated, null, cancellationToken);

    public async Task<CreatedKeyDto> CreateAsync(CreateKeyRequest request, AuditActor actor, string auditAction, object? auditDetail, CancellationToken cancellationToken)
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
        var dto = KeyDto.From(key, time.GetUtcNow());
        audit.Stage(db, actor, auditAction, $"key:{key.Id}", detail: auditDetail ?? new { dto.Name, dto.Prefix, dto.Scopes });
        await db.SaveChangesAsync(cancellationToken);
        return new CreatedKeyDto(dto, secret);
    }

    /// <summary>Adds a key whose secret the operator chose (the bootstrap admin key).</summary>
    public async Task<ApiKey> ImportAsync(string name, string secret, string scopes, AuditActor actor, object auditDetail, CancellationToken cancellationToken)
    {
        var key = new ApiKey
        {
            Id = Ids.New("key"), Name = name, Prefix = ApiKeySecrets.ImportedDisplayPrefix(secret), Hash = ApiKeySecrets.Hash(secret), Scopes = scopes,
            CreatedAt = time.GetUtcNow(),
        };
        db.ApiKeys.Add(key);
        audit.Stage(db, actor, AuditActions.SecurityBootstrap, $"key:{key.Id}", detail: auditDetail);
        await db.SaveChangesAsync(cancellationToken);
        return key;
    }

    public async Task<List<KeyDto>> ListAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        return (await db.ApiKeys.AsNoTracking().OrderBy(k => k.Id).ToListAsync(cancellationToken)).Select(k => KeyDto.From(k, now)).ToList();
    }

    /// <summary>Revokes at once; null when no such key.</summary>
    public async Task<KeyDto?> RevokeAsync(string id, AuditActor actor, CancellationToken cancellationToken)
    {
        var key = await db.ApiKeys.FirstOrDefaultAsync(k => k.Id == id, cancellationToken);
        if (key is null) return null;
        key.RevokedAt ??= time.GetUtcNow();
        audit.Stage(db, actor, AuditActions.KeyRevoked, $"key:{id}", detail: new { key.Name, key.Prefix });
        await db.SaveChangesAsync(cancellationToken);
        await store.InvalidateAsync();
        return KeyDto.From(key, time.GetUtcNow());
    }

    /// <summary>Gives the key a new secret; the old one stops working immediately. Null when no such active key.</summary>
    public async Task<CreatedKeyDto?> RotateAsync(string id, AuditActor actor, CancellationToken cancellationToken)
    {
        var key = await db.ApiKeys.FirstOrDefaultAsync(k => k.Id == id && k.RevokedAt == null, cancellationToken);
        if (key is null) return null;
        var secret = ApiKeySecrets.NewSecret();
        key.Hash = ApiKeySecrets.Hash(secret);
        key.Prefix = ApiKeySecrets.DisplayPrefix(secret);
        audit.Stage(db, actor, AuditActions.KeyRotated, $"key:{id}", detail: new { key.Name, key.Prefix });
        await db.SaveChangesAsync(cancellationToken);
        await store.InvalidateAsync();
        return new CreatedKeyDto(KeyDto.From(key, time.GetUtcNow()), secret);
    }
}
