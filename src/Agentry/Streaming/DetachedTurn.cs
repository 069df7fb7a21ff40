using Agentry.Conversations;

namespace Agentry.Streaming;

/// <summary>
/// What a turn that outlives its request runs with: a service scope of its own (the request's is disposed when the
/// client leaves, and the turn must still commit with a live database context) and a cancellation that only the
/// client's leaving triggers, when the operator chose that (Streaming:CancelOnDisconnect).
/// </summary>
public sealed class DetachedTurn : IAsyncDisposable
{
    readonly AsyncServiceScope _scope;
    readonly CancellationTokenSource _cancel;

    public DetachedTurn(IServiceProvider requestServices, CancellationToken cancelWhen)
    {
        _scope = requestServices.GetRequiredService<IServiceScopeFactory>().CreateAsyncScope();
        _cancel = CancellationTokenSource.CreateLinkedTokenSource(cancelWhen);
        Runner = _scope.ServiceProvider.GetRequiredService<TurnRunner>();
    }

    public TurnRunner Runner { get; }
    public IServiceProvider Services => _scope.ServiceProvider;
    public CancellationToken Token => _cancel.Token;

    public async ValueTask DisposeAsync()
    {
        _cancel.Dispose();
        await _scope.DisposeAsync();
    }
}
