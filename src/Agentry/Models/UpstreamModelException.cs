using System.ClientModel;
using System.Net.Sockets;
using Agentry.Api;
using Polly.CircuitBreaker;
using Polly.Timeout;

namespace Agentry.Models;

/// <summary>
/// A model provider call that failed after Agentry's retries: the client gets 502 (the provider answered badly or
/// could not be reached), 503 (it is rate limiting us or the circuit is open) or 504 (it took too long).
/// </summary>
public sealed class UpstreamModelException(int status, string type, string title, string detail, Exception? inner = null)
    : Exception(detail, inner)
{
    public int Status { get; } = status;
    public string Type { get; } = type;
    public string Title { get; } = title;
    public TimeSpan? RetryAfter { get; init; }

    public static UpstreamModelException Timeout(string detail, Exception? inner = null) =>
        new(504, ProblemTypes.UpstreamTimeout, "Model provider timed out", detail, inner);

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
                case TimeoutRejectedException:
                    return Timeout("The model provider did not answer in time.", exception);
                case ClientResultException result when result.Status != 0:
                    return FromStatus(result.Status, result.GetRawResponse(), exception);
                case HttpRequestException { StatusCode: { } code }:
                    return FromStatus((int)code, null, exception);
                case HttpRequestException { HttpRequestError: HttpRequestError.ResponseEnded or HttpRequestError.InvalidResponse }:
                    return new UpstreamModelException(502, ProblemTypes.UpstreamError, "Model provider failed",
                        "The model provider's response broke off or was malformed.", exception);
                case HttpRequestException or SocketException:
                    return new UpstreamModelException(502, ProblemTypes.UpstreamUnreachable, "Model provider unreachable",
                        "Agentry could not connect to the model provider.", exception);
            }
        }
        return null;
    }

    static UpstreamModelException FromStatus(int status, System.ClientModel.Primitives.PipelineResponse? response, Exception inner)
    {
        TimeSpan? retryAfter = null;
        if (response is not null && response.Headers.TryGetValue("Retry-After", out var value) && int.TryParse(value, out var seconds))
            retryAfter = TimeSpan.FromSeconds(seconds);
        return status switch
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
    }
}
