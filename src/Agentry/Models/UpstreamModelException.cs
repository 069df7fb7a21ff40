using System.ClientModel;
using System.Net.Sockets;
using Agentry.Api;
using Polly.CircuitBreaker;
using Polly.Timeout;

namespace Agentry.Models;

/// <summary>
/// A model provider call that failed after Agentry's retries: the client gets 502 (the provider answered badly, broke
/// off or could not be reached), 503 (it is rate limiting us or the circuit is open) or 504 (it took too long).
/// </summary>
public sealed class UpstreamModelException(int status, string type, string title, string detail, Exception? inner = null)
    : Exception(detail, inner)
{
    public int Status { get; } = status;
    public string Type { get; } = type;
    public string Title { get; } = title;
    public TimeSpan? RetryAfter { get; init; }
    /// <summary>The HTTP status the provider answered with, when it answered at all.</summary>
    public int? UpstreamStatus { get; init; }
    /// <summary>The answer started and then broke off or ended unfinished: safe to ask again if nobody saw it.</summary>
    public bool CutShort { get; init; }

    public static UpstreamModelException Timeout(string detail, Exception? inner = null) =>
        new(504, ProblemTypes.UpstreamTimeout, "Model provider timed out", detail, inner);

    /// <summary>The stream ended without a finish reason (no <c>[DONE]</c>): whatever arrived is a fragment, not a reply.</summary>
    public static UpstreamModelException Incomplete() =>
        new(502, ProblemTypes.UpstreamIncomplete, "Model provider's answer was cut short",
            "The model provider stopped sending before its answer was finished (the stream ended without a finish reason).")
        { CutShort = true };

    /// <summary>Recognises the failures of the OpenAI SDK, the HTTP stack and the resilience pipeline; null for anything else.</summary>
    public static UpstreamModelException? TryClassify(Exception exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            switch (e)
            {
                case UpstreamModelException already:
                    return already;
                case BrokenCircuitException:
                    return new UpstreamModelException(503, ProblemTypes.UpstreamUnavailable, "Model provider unavailable",
                        "Recent calls to the model provider failed, so Agentry is pausing calls to it; try again shortly.", exception)
                    { RetryAfter = TimeSpan.FromSeconds(30) };
                case Polly.RateLimiting.RateLimiterRejectedException:
                    return new UpstreamModelException(503, ProblemTypes.UpstreamUnavailable, "Too many calls to the model provider",
                        "Agentry already has as many calls waiting on this model provider as it allows (Models:Resilience:MaxConcurrentCalls); try again shortly.", exception)
                    { RetryAfter = TimeSpan.FromSeconds(1) };
                case TimeoutRejectedException:
                    return Timeout("The model provider did not answer in time.", exception);
                case ClientResultException result when result.Status != 0:
                    return FromStatus(result.Status, result.GetRawResponse(), exception);
                case HttpRequestException { StatusCode: { } code }:
                    return FromStatus((int)code, null, exception);
                case HttpRequestException
                {
                    HttpRequestError: HttpRequestError.NameResolutionError or HttpRequestError.ConnectionError
                    or HttpRequestError.SecureConnectionError or HttpRequestError.ProxyTunnelError
                }:
                    return Unreachable(exception);
                // Connected and sent the request, then the response broke or made no sense before any of the answer was read.
                case HttpRequestException request:
                    return Broken(request, "before it answered", exception, cutShort: false);
                // Reading the answer failed: the connection was up and broke while the provider answered.
                case IOException:
                    return Broken(e, "while it was answering", exception, cutShort: true);
                case SocketException:
                    return Unreachable(exception);
            }
        }
        return null;
    }

    static UpstreamModelException Unreachable(Exception exception) =>
        new(502, ProblemTypes.UpstreamUnreachable, "Model provider unreachable", "Agentry could not connect to the model provider.", exception);

    static UpstreamModelException Broken(Exception failure, string when, Exception exception, bool cutShort)
    {
        var what = failure switch
        {
            _ when Find<SocketException>(failure) is { SocketErrorCode: SocketError.ConnectionReset } => "connection reset",
            HttpRequestException { HttpRequestError: HttpRequestError.InvalidResponse or HttpRequestError.HttpProtocolError } => "malformed response",
            _ => "the response ended prematurely",
        };
        return new UpstreamModelException(502, ProblemTypes.UpstreamError, "Model provider failed",
            $"The connection to the model provider broke {when} ({what}).", exception)
        { CutShort = cutShort };
    }

    static T? Find<T>(Exception exception) where T : Exception
    {
        for (var e = exception; e is not null; e = e.InnerException)
            if (e is T found) return found;
        return null;
    }

    static UpstreamModelException FromStatus(int status, System.ClientModel.Primitives.PipelineResponse? response, Exception inner)
    {
        TimeSpan? retryAfter = null;
        if (response is not null && response.Headers.TryGetValue("Retry-After", out var value) && int.TryParse(value, out var seconds))
            retryAfter = TimeSpan.FromSeconds(seconds);
        var problem = status switch
        {
            429 => new UpstreamModelException(503, ProblemTypes.UpstreamRateLimited, "Model provider rate limited",
                "The model provider is rate limiting Agentry; try again later.", inner)
            { RetryAfter = retryAfter ?? TimeSpan.FromSeconds(10) },
            401 or 403 => new UpstreamModelException(502, ProblemTypes.UpstreamRejected, "Model provider rejected credentials",
                $"The model provider answered {status}: check the endpoint's API key (OPENAI_API_KEY or Models:Endpoints:*:ApiKey).", inner),
            408 or 504 => Timeout($"The model provider answered {status}.", inner),
            >= 400 and < 500 => new UpstreamModelException(502, ProblemTypes.UpstreamRejected, "Model provider rejected the request",
                $"The model provider answered {status}; check the agent's model name and settings.", inner),
            _ => new UpstreamModelException(502, ProblemTypes.UpstreamError, "Model provider failed",
                $"The model provider answered {status}.", inner),
        };
        return new UpstreamModelException(problem.Status, problem.Type, problem.Title, problem.Message, inner)
        {
            RetryAfter = problem.RetryAfter, UpstreamStatus = status,
        };
    }
}
