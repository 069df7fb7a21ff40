using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;

namespace Agentry.Api;

/// <summary>
/// Writes every problem as <c>application/problem+json</c>. The framework's writer stays silent when the client's
/// Accept header lacks JSON (a streaming client sends <c>text/event-stream</c>), which would leave a bare status code.
/// </summary>
public sealed class ProblemJsonWriter(IOptions<ProblemDetailsOptions> options) : IProblemDetailsWriter
{
    public bool CanWrite(ProblemDetailsContext context) => true;

    public ValueTask WriteAsync(ProblemDetailsContext context)
    {
        var http = context.HttpContext;
        var problem = context.ProblemDetails;
        problem.Status ??= http.Response.StatusCode;
        options.Value.CustomizeProblemDetails?.Invoke(context);
        return new ValueTask(http.Response.WriteAsJsonAsync(problem, problem.GetType(), (System.Text.Json.JsonSerializerOptions?)null,
            contentType: "application/problem+json", http.RequestAborted));
    }
}
