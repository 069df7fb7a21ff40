using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Agentry.Api;
using Agentry.Data;
using Microsoft.EntityFrameworkCore;

namespace Agentry.Conversations;

/// <summary>A turn request a client marked with an <c>Idempotency-Key</c>: what it asked for and, once done, what it got.</summary>
public sealed class IdempotentRequest
{
    /// <summary>The API key (or <c>anonymous</c>) the idempotency key belongs to: two clients may use the same key.</summary>
    public required string Owner { get; set; }
    public required string Key { get; set; }
    /// <summary>SHA-256 of the method, path and body: the same key with another request is a client mistake.</summary>
    public required string RequestHash { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset ExpiresAt { get; set; }
    /// <summary>The completed turn (JSON); null while the first request is still running.</summary>
    public string? Response { get; set; }
}

/// <summary>One client's Idempotency-Key: the API key (or <c>anonymous</c>) it belongs to, and the key itself.</summary>
public sealed record IdempotencyKey(string Owner, string Key);

/// <summary>What to do with a request that carries an <c>Idempotency-Key</c>.</summary>
public abstract record IdempotencyDecision
{
    /// <summary>Run the turn; its commit completes the key (or frees it when the turn produced nothing).</summary>
    public sealed record Proceed(IdempotencyKey Key) : IdempotencyDecision;
    public sealed record Replay(TurnDto Turn) : IdempotencyDecision;
}

/// <summary>
/// Safe retries of the turn endpoints: the first request with a key runs and its result is kept for 24 hours; a retry
/// with the same key and body gets that result again instead of a second turn (and a second refund); a retry while the
/// first still runs gets 409, one with a different body 422. The key is completed by the turn's own commit, in the same
/// transaction as what the turn stored, so no crash can separate them: a turn that stored anything (a tool ran, part of
/// a reply) is replayed as stored, even when it failed or its client left; only a turn that produced nothing frees the
/// key for the retry. A key whose first request never finished (its instance died before committing anything) is taken
/// over after <see cref="InProgressTimeout"/>. Rows are shared by every instance through the database.
/// </summary>
public sealed class Idempotency(AgentryDbContext db, TimeProvider time)
{
    public const string Header = "Idempotency-Key";
    public const string ReplayedHeader = "Idempotent-Replayed";
    static readonly TimeSpan Keep = TimeSpan.FromHours(24);
    /// <summary>Longer than any turn runs (its model calls and tools are each bounded); a key still running after this was abandoned.</summary>
    public static readonly TimeSpan InProgressTimeout = TimeSpan.FromMinutes(15);
    static readonly JsonSerializerOptions Json = CreateJson();

    public async Task<IdempotencyDecision?> BeginAsync(HttpContext http, object request, CancellationToken cancellationToken)
    {
        if (http.Request.Headers[Header].ToString() is not { Length: > 0 } key) return null;
        if (key.Length > 200 || key.Any(char.IsControl))
            throw new ApiProblemException(400, ProblemTypes.ValidationFailed, "Invalid Idempotency-Key", "The Idempotency-Key header must be 1-200 printable characters.");
        var owner = Security.CallerExtensions.GetCaller(http)?.KeyId ?? "anonymous";
        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"{http.Request.Method} {http.Request.Path}\n{JsonSerializer.Serialize(request, request.GetType(), Json)}")));
        var now = time.GetUtcNow();
        var abandoned = now - InProgressTimeout;

        await db.IdempotentRequests.Where(r => r.Owner == owner && r.Key == key && (r.ExpiresAt < now || (r.Response == null && r.CreatedAt < abandoned)))
            .ExecuteDeleteAsync(cancellationToken);
        Task<IdempotentRequest?> StoredAsync() =>
            db.IdempotentRequests.AsNoTracking().FirstOrDefaultAsync(r => r.Owner == owner && r.Key == key, cancellationToken);
        // A retry finds its key without trying to insert it again: EF Core logs a failed insert as an error, and a retry
        // is the ordinary case this header exists for. Two requests racing for a new key still meet at the insert.
        var existing = await StoredAsync();
        if (existing is null)
        {
            db.IdempotentRequests.Add(new IdempotentRequest { Owner = owner, Key = key, RequestHash = hash, CreatedAt = now, ExpiresAt = now + Keep });
            try
            {
                await db.SaveChangesAsync(cancellationToken);
                return new IdempotencyDecision.Proceed(new IdempotencyKey(owner, key));
            }
            catch (DbUpdateException)
            {
                db.ChangeTracker.Clear();
            }
            existing = await StoredAsync() ?? throw Conflict(key); // released between our insert and our read: the first request produced nothing; retry
        }
        if (existing.RequestHash != hash)
            throw new ApiProblemException(422, ProblemTypes.IdempotencyKeyReused, "Idempotency key reused",
                $"Idempotency-Key '{key}' was used for a different request; use a new key for a new request.");
        if (existing.Response is null) throw Conflict(key);
        return new IdempotencyDecision.Replay(JsonSerializer.Deserialize<TurnDto>(existing.Response, Json)!);
    }

    /// <summary>Keeps the turn's result for retries; part of the caller's transaction (the turn's commit).</summary>
    public Task CompleteAsync(IdempotencyKey key, TurnDto turn) =>
        db.IdempotentRequests.Where(r => r.Owner == key.Owner && r.Key == key.Key)
            .ExecuteUpdateAsync(s => s.SetProperty(r => r.Response, JsonSerializer.Serialize(turn, Json)), CancellationToken.None);

    /// <summary>Nothing to replay: the key is free again. Part of the caller's transaction when it has one.</summary>
    public Task ReleaseAsync(IdempotencyKey key) =>
        db.IdempotentRequests.Where(r => r.Owner == key.Owner && r.Key == key.Key && r.Response == null).ExecuteDeleteAsync(CancellationToken.None);

    static ApiProblemException Conflict(string key) =>
        new(409, ProblemTypes.IdempotencyKeyInUse, "Request in progress",
            $"A request with Idempotency-Key '{key}' is still running; retry when it has finished to get its result.")
        { RetryAfter = TimeSpan.FromSeconds(1) };

    static JsonSerializerOptions CreateJson()
    {
        var options = new JsonSerializerOptions(JsonSerializerDefaults.Web);
        ApiExtensions.ConfigureJson(options);
        return options;
    }
}

public static class IdempotencyEndpoints
{
    /// <summary>The endpoint takes an optional Idempotency-Key (documented in the OpenAPI document).</summary>
    public static RouteHandlerBuilder AcceptsIdempotencyKey(this RouteHandlerBuilder endpoint) =>
        endpoint.AddOpenApiOperationTransformer((operation, _, _) =>
        {
            operation.Parameters ??= [];
            operation.Parameters.Add(new Microsoft.OpenApi.OpenApiParameter
            {
                Name = Idempotency.Header, In = Microsoft.OpenApi.ParameterLocation.Header, Required = false,
                Description = "Makes a retry safe: the same key and body within 24 h returns the first result (header Idempotent-Replayed: true) instead of running a second turn; 409 while the first still runs, 422 for a different body.",
                Schema = new Microsoft.OpenApi.OpenApiSchema { Type = Microsoft.OpenApi.JsonSchemaType.String, MaxLength = 200 },
            });
            return Task.CompletedTask;
        });
}
