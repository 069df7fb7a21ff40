using System.Diagnostics.Metrics;
using System.Globalization;
using Agentry.Audit;
using Agentry.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Agentry.Privacy;

/// <summary>What one pass of the retention job deleted.</summary>
public sealed record RetentionPass(int Conversations, int Messages, int AnalyticsRows, int ErrorGroups, int AuditEvents)
{
    public bool DeletedAnything => Conversations + AnalyticsRows + ErrorGroups + AuditEvents > 0;
}

/// <summary>
/// Deletes what is older than Data:Retention allows, every Data:Retention:Interval: old conversations a batch at a time
/// (each batch its own short transaction, so turns never queue behind it), analytics days and error groups, and the
/// oldest audit events behind an anchor event that keeps the chain verifiable. Reports each kind as
/// <c>agentry.retention.deleted</c> and one log line per pass that deleted something. Several instances may run it: a
/// row deleted twice is deleted once.
/// </summary>
public sealed partial class RetentionJob(
    IServiceScopeFactory scopes, IOptions<RetentionOptions> options, AuditLog audit, IMeterFactory meters, TimeProvider time,
    ILogger<RetentionJob> logger) : BackgroundService
{
    readonly Counter<long> _deleted = meters.Create(Observability.AgentryTelemetry.Name)
        .CreateCounter<long>("agentry.retention.deleted", "{row}", "Rows the retention job deleted because they were older than Data:Retention allows, by kind.");

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value;
        if (settings.Conversations is null && settings.Analytics is null && settings.Audit is null) return; // keep everything
        using var timer = new PeriodicTimer(settings.Interval, time);
        try
        {
            do
            {
                try
                {
                    await RunOnceAsync(stoppingToken);
                }
                catch (Exception e) when (e is DbUpdateException or System.Data.Common.DbException or InvalidOperationException && !stoppingToken.IsCancellationRequested)
                {
                    LogFailed(e); // the next pass tries again
                }
            } while (await timer.WaitForNextTickAsync(stoppingToken));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    public async Task<RetentionPass> RunOnceAsync(CancellationToken cancellationToken)
    {
        var settings = options.Value;
        var now = time.GetUtcNow();
        var (conversations, messages) = settings.Conversations is { } keepConversations ? await ConversationsAsync(now - keepConversations, settings.BatchSize, cancellationToken) : (0, 0);
        var (analytics, errors) = settings.Analytics is { } keepAnalytics ? await AnalyticsAsync(now - keepAnalytics, cancellationToken) : (0, 0);
        var auditEvents = settings.Audit is { } keepAudit ? await AuditAsync(now - keepAudit, settings.BatchSize, cancellationToken) : 0;
        var pass = new RetentionPass(conversations, messages, analytics, errors, auditEvents);
        if (!pass.DeletedAnything) return pass;
        _deleted.Add(conversations, new KeyValuePair<string, object?>("kind", "conversations"));
        _deleted.Add(messages, new KeyValuePair<string, object?>("kind", "messages"));
        _deleted.Add(analytics, new KeyValuePair<string, object?>("kind", "analytics"));
        _deleted.Add(errors, new KeyValuePair<string, object?>("kind", "error-groups"));
        _deleted.Add(auditEvents, new KeyValuePair<string, object?>("kind", "audit-events"));
        LogDeleted(conversations, messages, analytics, errors, auditEvents);
        audit.Enqueue(AuditActor.System, AuditActions.RetentionApplied, "data", "success", new { conversations, messages, analytics, errorGroups = errors });
        return pass;
    }

    async Task<(int Conversations, int Messages)> ConversationsAsync(DateTimeOffset cutoff, int batch, CancellationToken cancellationToken)
    {
        int conversations = 0, messages = 0;
        while (!cancellationToken.IsCancellationRequested)
        {
            await using var scope = scopes.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<AgentryDbContext>();
            await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
            var ids = await db.Conversations.Where(c => c.UpdatedAt < cutoff).OrderBy(c => c.UpdatedAt).Select(c => c.Id).Take(batch).ToListAsync(cancellationToken);
            if (ids.Count == 0) break;
            // Only those still old: a conversation that just got a turn stays.
            var stillOld = await db.Conversations.Where(c => ids.Contains(c.Id) && c.UpdatedAt < cutoff).Select(c => c.Id).ToListAsync(cancellationToken);
            var deleted = await ConversationRows.DeleteAsync(db, stillOld, cancellationToken);
            conversations += deleted.Conversations;
            messages += deleted.Messages;
            await transaction.CommitAsync(cancellationToken);
            if (ids.Count < batch) break;
        }
        // Stored responses go with their conversations; those whose turn never committed (refused at start) by age.
        await using (var scope = scopes.CreateAsyncScope())
            await scope.ServiceProvider.GetRequiredService<AgentryDbContext>().Responses.Where(r => r.UpdatedAt < cutoff).ExecuteDeleteAsync(cancellationToken);
        return (conversations, messages);
    }

    async Task<(int Analytics, int Errors)> AnalyticsAsync(DateTimeOffset cutoff, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<AgentryDbContext>();
        var day = cutoff.UtcDateTime.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
        var analytics = await db.AnalyticsBuckets.Where(b => string.Compare(b.Day, day) < 0).ExecuteDeleteAsync(cancellationToken);
        var errors = await db.ErrorGroups.Where(g => g.LastSeen < cutoff).ExecuteDeleteAsync(cancellationToken);
        return (analytics, errors);
    }

    /// <summary>
    /// Deletes the oldest audit events up to the cutoff, after recording (as an event of the chain) the hash of the last one
    /// deleted: <see cref="AuditChain.VerifyAsync"/> starts from that anchor instead of the genesis hash.
    /// </summary>
    async Task<int> AuditAsync(DateTimeOffset cutoff, int batch, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<AgentryDbContext>();
        // The newest event to go; events are in id order, which is time order.
        var last = await db.AuditEvents.AsNoTracking().Where(e => e.Time < cutoff).OrderByDescending(e => e.Id).Select(e => new { e.Id, e.Hash }).FirstOrDefaultAsync(cancellationToken);
        if (last is null) return 0;
        await audit.RecordAsync(db, AuditActor.System, AuditActions.RetentionApplied, "audit", detail: new { auditThroughId = last.Id, auditThroughHash = last.Hash },
            cancellationToken: cancellationToken);
        var deleted = 0;
        while (!cancellationToken.IsCancellationRequested)
        {
            var ids = await db.AuditEvents.Where(e => e.Id <= last.Id).OrderBy(e => e.Id).Select(e => e.Id).Take(batch).ToListAsync(cancellationToken);
            if (ids.Count == 0) break;
            deleted += await db.AuditEvents.Where(e => ids.Contains(e.Id)).ExecuteDeleteAsync(cancellationToken);
        }
        return deleted;
    }

    [LoggerMessage(EventId = 9200, Level = LogLevel.Information,
        Message = "Retention deleted {Conversations} conversation(s) with {Messages} message(s), {Analytics} analytics row(s), {ErrorGroups} error group(s) and {AuditEvents} audit event(s)")]
    partial void LogDeleted(int conversations, int messages, int analytics, int errorGroups, int auditEvents);

    [LoggerMessage(EventId = 9201, Level = LogLevel.Warning, Message = "The retention pass failed; the next one tries again")]
    partial void LogFailed(Exception exception);
}
