using System.Text.Json;
using Agentry.Models;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Mvc;

namespace Agentry.Api;

/// <summary>
/// The one place where exceptions become problem responses. Client mistakes keep their 4xx status and a message
/// that says what to fix; upstream model failures become 502/503/504; anything else is a 500 whose detail never
/// contains the exception text or a stack trace (those go to the log, joined by the traceId).
/// </summary>
public sealed partial class ApiExceptionHandler(IProblemDetailsService problems, Observability.ErrorTracker errors, ILogger<ApiExceptionHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        if (exception is OperationCanceledException && httpContext.RequestAborted.IsCancellationRequested)
        {
            // The client went away; there is nobody to answer. 499 is what proxies log for this.
            httpContext.Response.StatusCode = 499;
            return true;
        }

        var problem = Describe(exception, out var retryAfter);
        if (problem.Status >= 500) errors.Record(exception, System.Diagnostics.Activity.Current?.TraceId.ToString() ?? httpContext.TraceIdentifier);
        // A failed model call was logged once, concisely, where it failed (ModelInvoker), and a problem the code raised on
        // purpose (shutting down, …) is no surprise: only the unexpected get a stack trace here.
        if (problem.Status >= 500 && exception is not ApiProblemException && UpstreamModelException.TryClassify(exception) is null)
            LogUnhandled(exception, httpContext.Request.Method, httpContext.Request.Path);

        if (httpContext.Response.HasStarted) return true;
        httpContext.Response.StatusCode = problem.Status!.Value;
        if (retryAfter is { } delay) httpContext.Response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(delay.TotalSeconds)).ToString();
        return await problems.TryWriteAsync(new ProblemDetailsContext { HttpContext = httpContext, ProblemDetails = problem, Exception = exception });
    }

    /// <summary>Maps an exception to the problem a client sees. Also used by the SSE stream's <c>error</c> event.</summary>
    public static ProblemDetails Describe(Exception exception, out TimeSpan? retryAfter)
    {
        retryAfter = null;
        switch (exception)
        {
            case ApiProblemException api:
                retryAfter = api.RetryAfter;
                return new ProblemDetails { Status = api.Status, Type = api.Type, Title = api.Title, Detail = api.Message };
            case UpstreamModelException upstream:
                retryAfter = upstream.RetryAfter;
                return new ProblemDetails { Status = upstream.Status, Type = upstream.Type, Title = upstream.Title, Detail = upstream.Message };
            case ApiValidationException invalid:
                return new HttpValidationProblemDetails(new Dictionary<string, string[]> { [invalid.Field] = [invalid.Message] })
                {
                    Status = 400, Type = ProblemTypes.ValidationFailed, Title = "Validation failed", Detail = $"{invalid.Field}: {invalid.Message}",
                };
            case BadHttpRequestException bad:
                return DescribeBadRequest(bad);
            default:
                if (UpstreamModelException.TryClassify(exception) is { } classified) return Describe(classified, out retryAfter);
                return new ProblemDetails { Status = 500, Type = ProblemTypes.Internal, Title = "Internal error", Detail = ProblemTypes.DefaultDetail(500) };
        }
    }

    static ProblemDetails DescribeBadRequest(BadHttpRequestException bad)
    {
        var status = bad.StatusCode;
        if (status == 413)
            return new ProblemDetails { Status = 413, Type = ProblemTypes.PayloadTooLarge, Title = "Payload too large", Detail = ProblemTypes.DefaultDetail(413) };
        if (status == 415)
            return new ProblemDetails { Status = 415, Type = ProblemTypes.UnsupportedMediaType, Title = "Unsupported media type", Detail = ProblemTypes.DefaultDetail(415) };

        if (FindJsonException(bad) is { } json)
        {
            var field = string.IsNullOrEmpty(json.Path) ? "$" : json.Path;
            if (json is NoNullElements.NullItemException nullItem) field += "." + nullItem.Member;
            var message = CleanJsonMessage(json.Message);
            var problem = new HttpValidationProblemDetails(new Dictionary<string, string[]> { [field] = [message] })
            {
                Status = 400, Type = ProblemTypes.InvalidJson, Title = "Invalid JSON",
                Detail = $"The request body is not valid JSON for this endpoint: {message}",
            };
            return problem;
        }

        if (bad.Message.Contains("no body was provided", StringComparison.Ordinal))
            return new ProblemDetails { Status = 400, Type = ProblemTypes.InvalidJson, Title = "Invalid JSON", Detail = "The request body is empty or null; send a JSON object." };

        // "Failed to bind parameter "int? limit" from "abc"": say it in the client's terms, without the .NET type.
        if (BindFailurePattern().Match(bad.Message) is { Success: true } bind)
            return BindingFailures.Invalid(bind.Groups["name"].Value, bind.Groups["value"].Value, bind.Groups["type"].Value);

        // Other messages of BadHttpRequestException name the parameter and what was wrong; they carry no secrets.
        return new ProblemDetails { Status = status, Type = ProblemTypes.ForStatus(status), Title = "Bad request", Detail = TypeNamePattern().Replace(bad.Message, "value") };
    }

    static JsonException? FindJsonException(Exception exception)
    {
        for (var e = exception.InnerException; e is not null; e = e.InnerException)
            if (e is JsonException json) return json;
        return null;
    }

    // System.Text.Json appends ". Path: $.x | LineNumber: 0 | BytePositionInLine: 3." and sometimes .NET type names;
    // the field goes into errors' key, so keep the human part and the position.
    static string CleanJsonMessage(string message)
    {
        // The two mistakes clients make most, said in their terms rather than System.Text.Json's.
        if (UnknownPropertyPattern().Match(message) is { Success: true } unknown)
            return $"Unknown property '{unknown.Groups[1].Value}'; property names are camelCase and case-sensitive.";
        if (message.StartsWith("The JSON value could not be converted", StringComparison.Ordinal))
            return "The value has the wrong type for this field" + (PositionPattern().Match(message) is { Success: true } at ? $" ({at.Value})." : ".");
        var cut = message.IndexOf(" Path: ", StringComparison.Ordinal);
        var head = cut > 0 ? message[..cut] : message;
        var position = cut > 0 ? message[(message.IndexOf('|', cut) is var p and > 0 ? p + 1 : cut)..].Trim() : "";
        head = head.Replace("System.String", "string").Replace("System.Int32", "integer").Replace("System.Double", "number")
            .Replace("System.Boolean", "boolean").Replace("System.Nullable`1[", "").Replace("]", "");
        var typeNames = TypeNamePattern().Replace(head, "the expected type");
        return string.IsNullOrEmpty(position) ? typeNames : $"{typeNames} ({position.TrimEnd('.')})";
    }

    [System.Text.RegularExpressions.GeneratedRegex("^Failed to bind parameter \"(?<type>[^ \"]+) (?<name>[^\"]+)\" from \"(?<value>[^\"]*)\"")]
    private static partial System.Text.RegularExpressions.Regex BindFailurePattern();

    [System.Text.RegularExpressions.GeneratedRegex("^The JSON property '([^']*)' could not be mapped")]
    private static partial System.Text.RegularExpressions.Regex UnknownPropertyPattern();

    [System.Text.RegularExpressions.GeneratedRegex(@"LineNumber: \d+ \| BytePositionInLine: \d+")]
    private static partial System.Text.RegularExpressions.Regex PositionPattern();

    [System.Text.RegularExpressions.GeneratedRegex(@"Agentry\.[A-Za-z0-9_.+`\[\]]+")]
    private static partial System.Text.RegularExpressions.Regex TypeNamePattern();

    [LoggerMessage(EventId = 1000, Level = LogLevel.Error, Message = "Unhandled exception for {Method} {Path}")]
    partial void LogUnhandled(Exception exception, string method, string path);
}
