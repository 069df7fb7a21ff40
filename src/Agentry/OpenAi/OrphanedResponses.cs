using Agentry.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Agentry.OpenAi;

/// <summary>
/// Every lease period, responses still marked running whose lease ran out (their instance died) are marked failed — so
/// one nobody polls is still reported, its stream ended and its webhook sent.
/// </summary>
public sealed partial class OrphanedResponses(IServiceScopeFactory scopes, ResponseRuns runs, IOptions<ResponsesOptions> options, TimeProvider time,
    ILogger<OrphanedResponses> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(options.Value.LeaseDuration, time, stoppingToken);
                await using var scope = scopes.CreateAsyncScope();
                var db = scope.ServiceProvider.GetRequiredService<AgentryDbContext>();
                var now = time.GetUtcNow();
                var expired = await db.Responses.AsNoTracking()
                    .Where(r => (r.Status == ResponseObject.Queued || r.Status == ResponseObject.InProgress) && r.LeaseExpiresAt != null)
                    .OrderBy(r => r.LeaseExpiresAt).Take(100).ToListAsync(stoppingToken);
                foreach (var row in expired.Where(r => r.LeaseExpiresAt < now)) await runs.ExpireIfOrphanedAsync(db, row);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
            }
            catch (Exception e)
            {
                LogSweepFailed(e);
            }
        }
    }

    [LoggerMessage(EventId = 3204, Level = LogLevel.Warning, Message = "Could not look for responses whose instance stopped; trying again next period")]
    partial void LogSweepFailed(Exception exception);
}
