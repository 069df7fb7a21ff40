using Agentry.Conversations;

namespace Agentry.Streaming;

/// <summary>
/// What a turn that outlives its request runs with: a service scope of its own (the request's is disposed when the
/// client leaves, and the turn must still commit with a live database context), the request's concurrency slot, and a
/// cancellation that only the client's leaving triggers, when the operator chose that (Streaming:CancelOnDisconnect).
/// </summary>
public sealed class DetachedTurn : IAsyncDisposable
{
    readonly AsyncServiceScope _scope;
    readonly CancellationTokenSource _cancel;
    readonly IDisposable? _slot;

    /// <param name="http">The request that starts it: its services' factory, and its place in the key's concurrency limit, which the turn keeps until it ends.</param>
    public DetachedTurn(HttpContext http, CancellationToken cancelWhen)
    {
        _scope = http.RequestServices.GetRequiredService<IServiceScopeFactory>().CreateAsyncScope();
        _cancel = CancellationTokenSource.CreateLinkedTokenSource(cancelWhen);
        _slot = http.Features.Get<Security.ConcurrencySlot>()?.Take();
        Runner = _scope.ServiceProvider.GetRequiredService<TurnRunner>();
    }

    public TurnRunner Runner { get; }
    public IServiceProvider Services => _scope.ServiceProvider;
    public CancellationToken Token => _cancel.Token;

    public async ValueTask DisposeAsync()
    {
        _cancel.Dispose();
        try
        {
            await _scope.DisposeAsync();
        }
        finally
        {
            _slot?.Dispose();
        }
    }
}
