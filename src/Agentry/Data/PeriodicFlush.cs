using Microsoft.EntityFrameworkCore;

namespace Agentry.Data;

/// <summary>
/// Writes state that is aggregated in memory (usage timestamps, error counts, analytics) to the database every
/// <paramref name="interval"/> and once more when the service stops, so hot paths never write per request and nothing
/// counted is lost on a graceful shutdown. The last write runs after the web server has drained (it is an
/// <see cref="IHostedLifecycleService"/>), so the requests finished during the drain are counted too.
/// </summary>
public abstract partial class PeriodicFlush(IServiceScopeFactory scopes, ILogger logger, TimeSpan interval) : BackgroundService, IHostedLifecycleService
{
    protected abstract string What { get; }

    protected abstract Task FlushAsync(AgentryDbContext db, CancellationToken cancellationToken);

    /// <summary>
    /// For a flush that adds to stored rows (read, add, write): the lock that keeps another instance's flush of the same
    /// rows from overwriting this one's counts. None for flushes that only ever move values forward.
    /// </summary>
    protected virtual SharedLock? Lock => null;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(interval);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken)) await RunAsync(CancellationToken.None);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    int _stopped;

    public async Task StoppedAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _stopped, 1) == 1) return; // a host can be stopped twice (test hosts are); flush once
        // The host's token may already be spent by a long drain; the final write gets its own bound instead.
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await RunAsync(bound.Token);
    }

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    async Task RunAsync(CancellationToken cancellationToken)
    {
        try
        {
            await using var scope = scopes.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<AgentryDbContext>();
            if (Lock is not { } shared)
            {
                await FlushAsync(db, cancellationToken);
                return;
            }
            await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
            await db.LockAsync(shared, cancellationToken);
            await FlushAsync(db, cancellationToken);
            await transaction.CommitAsync(cancellationToken);
        }
        catch (Exception e) when (e is DbUpdateException or System.Data.Common.DbException or InvalidOperationException or OperationCanceledException)
        {
            // Never fatal: a failed flush keeps nothing from the next one, and a crash on the way out would lose more.
            LogFlushFailed(e, What);
        }
    }

    [LoggerMessage(EventId = 900, Level = LogLevel.Warning, Message = "Could not store {What}")]
    partial void LogFlushFailed(Exception exception, string what);
}
