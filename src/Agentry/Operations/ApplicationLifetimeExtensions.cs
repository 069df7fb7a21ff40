namespace Agentry.Operations;

public static class ApplicationLifetimeExtensions
{
    /// <summary>
    /// Completes once the service has started (it listens); throws when <paramref name="cancellationToken"/> is cancelled
    /// first. Background work that must not run during a start that fails (its port in use, say) waits for this.
    /// </summary>
    public static async Task WaitUntilStartedAsync(this IHostApplicationLifetime lifetime, CancellationToken cancellationToken)
    {
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using (lifetime.ApplicationStarted.Register(() => started.TrySetResult()))
            await started.Task.WaitAsync(cancellationToken);
    }
}
