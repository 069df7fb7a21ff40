namespace Agentry.Security;

/// <summary>
/// A request's place in its key's concurrency limit (Security/RateLimitMiddleware.cs). Work that outlives the request —
/// a background response, a stream that runs on after its client left — takes it along, so a key cannot start more
/// turns at once than its limit by letting requests return early; the work frees it when it ends.
/// </summary>
public sealed class ConcurrencySlot(IDisposable? lease)
{
    IDisposable? _lease = lease;

    /// <summary>The lease, now the caller's to dispose; null when another already took it.</summary>
    public IDisposable? Take() => Interlocked.Exchange(ref _lease, null);

    public void Release() => Take()?.Dispose();
}
