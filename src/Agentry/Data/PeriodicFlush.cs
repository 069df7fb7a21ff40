using Microsoft.EntityFrameworkCore;

namespace Agentry.Data;

/// <summary>
/// Writes state that is aggregated in memory (usage timestamps, error counts, analytics) to the database every
/// <paramref name="interval"/> and once more on a graceful shutdown, so hot paths never write per request and nothing
/// counted is lost when the service stops.
/// </summary>
public abstract partial class PeriodicFlush(IServiceScopeFactory scopes, ILogger logger, TimeSpan interval) : BackgroundService
{
    protected abstract string What { get; }

    protected abstract Task FlushAsync(AgentryDbContext db, CancellationToken cancellationToken);

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

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        await RunAsync(cancellationToken);
    }

    async Task RunAsync(CancellationToken cancellationToken)
    {
        try
        {
            await using var scope = scopes.CreateAsyncScope();
            await FlushAsync(scope.ServiceProvider.GetRequiredService<AgentryDbContext>(), cancellationToken);
        }
        catch (Exception e) when (e is DbUpdateException or InvalidOperationException or Microsoft.Data.Sqlite.SqliteException)
        {
            LogFlushFailed(e, What);
        }
    }

    [LoggerMessage(EventId = 900, Level = LogLevel.Warning, Message = "Could not store {What}")]
    partial void LogFlushFailed(Exception exception, string what);
}
