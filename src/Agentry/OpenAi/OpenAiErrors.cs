using System.Text.Json;
using Agentry.Api;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;

namespace Agentry.OpenAi;

/// <summary>
/// Problems on the OpenAI-compatible paths are written in OpenAI's error shape, with the same status codes (and
/// Retry-After) Agentry gives everywhere, so an OpenAI SDK raises its usual exception types and retries what it should.
/// Agentry's stable problem type survives as <c>code</c>.
/// </summary>
public sealed class OpenAiErrorWriter(IOptions<ProblemDetailsOptions> options) : IProblemDetailsWriter
{
    public bool CanWrite(ProblemDetailsContext context) => OpenAiErrors.Serves(context.HttpContext.Request.Path);

    public ValueTask WriteAsync(ProblemDetailsContext context)
    {
        var http = context.HttpContext;
        context.ProblemDetails.Status ??= http.Response.StatusCode;
        options.Value.CustomizeProblemDetails?.Invoke(context); // type, title, detail and traceId as on every other problem
        return new ValueTask(http.Response.WriteAsJsonAsync(OpenAiErrors.From(context.ProblemDetails), OpenAiErrors.Json, "application/json", http.RequestAborted));
    }
}

public static class OpenAiErrors
{
    /// <summary>The JSON of these doors: OpenAI's snake_case names are on the types; nothing else differs from the API's.</summary>
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    const string ProblemPrefix = "urn:agentry:problem:";

    public static bool Serves(PathString path) =>
        path.StartsWithSegments("/v1/chat/completions") || path.StartsWithSegments("/v1/models") || path.StartsWithSegments("/v1/responses");

    public static OpenAiError From(ProblemDetails problem)
    {
        var status = problem.Status ?? 500;
        var type = problem.Type ?? ProblemTypes.ForStatus(status);
        string? param = null;
        var message = problem.Detail ?? problem.Title ?? "";
        if (problem is HttpValidationProblemDetails { Errors.Count: > 0 } validation)
        {
            param = validation.Errors.First().Key;
            message = string.Join(" ", validation.Errors.Select(e => $"{e.Key}: {string.Join(" ", e.Value)}"));
        }
        var traceId = problem.Extensions.TryGetValue("traceId", out var trace) ? trace?.ToString() : null;
        return new OpenAiError(new OpenAiErrorDetail(message, Kind(status), param, type.StartsWith(ProblemPrefix, StringComparison.Ordinal) ? type[ProblemPrefix.Length..] : type, traceId));
    }

    /// <summary>OpenAI's error types by status, which its SDKs and clients branch on.</summary>
    static string Kind(int status) => status switch
    {
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        409 => "conflict_error",
        429 => "rate_limit_error",
        >= 500 => "server_error",
        _ => "invalid_request_error",
    };
}
