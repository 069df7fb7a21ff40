namespace Agentry.Models;

/// <summary>
/// Counts the HTTP attempts behind one model call (the resilience handler retries below the SDK, out of its sight), so
/// the one log line of a failed call can say how many attempts it took.
/// </summary>
public sealed class UpstreamAttempts
{
    static readonly AsyncLocal<UpstreamAttempts?> Current = new();
    int _count;

    public int Count => Volatile.Read(ref _count);

    /// <summary>Starts counting for the calling flow (a model call); requests it makes count here.</summary>
    public static UpstreamAttempts Start() => Current.Value = new UpstreamAttempts();

    /// <summary>Sits inside the resilience handler, so it sees every attempt.</summary>
    public sealed class Handler : DelegatingHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            if (Current.Value is { } attempts) Interlocked.Increment(ref attempts._count);
            return base.SendAsync(request, cancellationToken);
        }
    }
}
