using Agentry.Data;
using Microsoft.EntityFrameworkCore;

namespace Agentry.Conversations;

/// <summary>Removes idempotency records older than their 24 hours, so the table holds one day of keys at most.</summary>
public sealed class IdempotencyPurge(IServiceScopeFactory scopes, TimeProvider time, ILogger<IdempotencyPurge> logger)
    : PeriodicFlush(scopes, logger, TimeSpan.FromMinutes(10))
{
    protected override string What => "the purge of expired idempotency keys";

    protected override async Task FlushAsync(AgentryDbContext db, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        await db.IdempotentRequests.Where(r => r.ExpiresAt < now).ExecuteDeleteAsync(cancellationToken);
    }
}
