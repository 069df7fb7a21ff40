using Agentry.Api;
using Agentry.Audit;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Agentry.Security;

public static class SecurityApi
{
    public static RouteGroupBuilder MapSecurityApi(this IEndpointRouteBuilder app)
    {
        // Any valid key may ask who it is: the console signs in with it and shows what its scopes allow.
        app.MapGet("/v1/me", (HttpContext http) => TypedResults.Ok(CallerDto.From(http.GetCaller()!))).WithTags("Keys").WithName("GetCurrentKey")
            .WithSummary("The calling key: its id, name, display prefix and scopes (never its secret).");
        var group = app.MapGroup("/v1/admin/keys").WithTags("Keys").RequireAuthorization(Policies.Admin);
        group.MapPost("/", Create).Validated().WithName("CreateKey").WithSummary("Create a key; the secret is in this response only.");
        group.MapGet("/", List).WithName("ListKeys").WithSummary("Every key with its scopes, limits, status and last use; never a secret.");
        group.MapDelete("/{keyId}", Revoke).WithName("RevokeKey").ProducesProblem(StatusCodes.Status404NotFound)
            .WithSummary("Revoke a key: refused from the next request on.");
        group.MapPost("/{keyId}/rotate", Rotate).WithName("RotateKey").ProducesProblem(StatusCodes.Status404NotFound)
            .WithSummary("New secret for the key; the old one stops working at once.");
        return group;
    }

    static async Task<Created<CreatedKeyDto>> Create(CreateKeyRequest request, ApiKeyManager keys, HttpContext http, CancellationToken ct)
    {
        var created = await keys.CreateAsync(request, AuditActor.From(http), ct);
        return TypedResults.Created($"/v1/admin/keys/{created.Key.Id}", created);
    }

    static async Task<Ok<Page<KeyDto>>> List(ApiKeyManager keys, CancellationToken ct)
    {
        var all = await keys.ListAsync(ct);
        return TypedResults.Ok(new Page<KeyDto>(all, null));
    }

    static async Task<Results<Ok<KeyDto>, ProblemHttpResult>> Revoke(string keyId, ApiKeyManager keys, HttpContext http, CancellationToken ct) =>
        await keys.RevokeAsync(keyId, AuditActor.From(http), ct) is { } key
            ? TypedResults.Ok(key)
            : Problems.NotFound(ProblemTypes.KeyNotFound, $"No key with id '{keyId}' exists.");

    static async Task<Results<Ok<CreatedKeyDto>, ProblemHttpResult>> Rotate(string keyId, ApiKeyManager keys, HttpContext http, CancellationToken ct) =>
        await keys.RotateAsync(keyId, AuditActor.From(http), ct) is { } rotated
            ? TypedResults.Ok(rotated)
            : Problems.NotFound(ProblemTypes.KeyNotFound, $"No active key with id '{keyId}' exists.");
}
