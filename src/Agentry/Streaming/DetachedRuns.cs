using System.Collections.Concurrent;

namespace Agentry.Streaming;

/// <summary>
/// Work that outlives the request that started it (a streamed turn whose client left, a background response). The
/// host's shutdown waits for it, so a turn cut short by SIGTERM still stores what it produced before the process exits.
/// </summary>
public sealed partial class DetachedRuns(ILogger<DetachedRuns> logger) : IHostedService
{
    readonly ConcurrentDictionary<Task, byte> _running = new();

    public int Count => _running.Count;

    public void Start(Func<Task> work)
    {
        var task = Task.Run(async () =>
        {
            try
            {
                await work();
            }
            catch (Exception e)
            {
                LogRunFailed(e); // the work reports its own failures; this is the last resort
            }
        });
        _running.TryAdd(task, 0);
        task.ContinueWith(t => _running.TryRemove(t, out _), TaskScheduler.Default);
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Runs end once the turns' shutdown grace cancels them (Conversations/TurnShutdown.cs); this waits for their commits.</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        try
        {
            await Task.WhenAll(_running.Keys).WaitAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
        }
    }

    [LoggerMessage(EventId = 3100, Level = LogLevel.Error, Message = "A detached run failed unexpectedly")]
    partial void LogRunFailed(Exception exception);
}
