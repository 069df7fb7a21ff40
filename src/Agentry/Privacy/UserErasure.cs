using Agentry.Audit;
using Agentry.Data;
using Agentry.Memory;
using Microsoft.EntityFrameworkCore;

namespace Agentry.Privacy;

/// <summary>What forgetting a user deleted, by kind.</summary>
public sealed record ForgottenUser(
    string UserId, int Conversations, int Messages, int Summaries, int Approvals, int ToolCalls, int Memories, int Embeddings, int IdempotencyRecords);

/// <summary>
/// Deletes everything stored about a user, in one transaction: their conversations with every message, summary, approval,
/// tool-ledger row, vector and replayable response, and their memories with their vectors. The audit event names the
/// user by <see cref="UserHash"/>; what the audit log already says about their conversations (ids, actions) stays, as
/// the record that it happened. Take <c>agentry export user</c> first to hand the user their data.
/// </summary>
public sealed class UserErasure(AgentryDbContext db, SnapshotCache cache, AuditLog audit)
{
    /// <summary>Conversation ids per statement: within SQLite's and PostgreSQL's parameter limits, short locks.</summary>
    const int Batch = 200;

    public async Task<ForgottenUser> ForgetAsync(string userId, AuditActor actor, CancellationToken cancellationToken)
    {
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        var conversations = await db.Conversations.Where(c => c.UserId == userId).Select(c => c.Id).ToListAsync(cancellationToken);
        int messages = 0, summaries = 0, approvals = 0, toolCalls = 0, embeddings = 0, idempotency = 0;
        foreach (var ids in conversations.Chunk(Batch))
        {
            messages += await db.Messages.Where(m => ids.Contains(m.ConversationId)).ExecuteDeleteAsync(cancellationToken);
            summaries += await db.ConversationSummaries.Where(s => ids.Contains(s.ConversationId)).ExecuteDeleteAsync(cancellationToken);
            approvals += await db.Approvals.Where(a => ids.Contains(a.ConversationId)).ExecuteDeleteAsync(cancellationToken);
            toolCalls += await db.ToolCalls.Where(t => ids.Contains(t.ConversationId)).ExecuteDeleteAsync(cancellationToken);
            var collections = ids.Select(ConversationSearch.Collection).ToList();
            embeddings += await db.Embeddings.Where(e => collections.Contains(e.Collection)).ExecuteDeleteAsync(cancellationToken);
            // A replayable response holds the turn's text; it names its conversation.
            foreach (var id in ids)
                idempotency += await db.IdempotentRequests.Where(r => r.Response != null && r.Response.Contains(id)).ExecuteDeleteAsync(cancellationToken);
            await db.Conversations.Where(c => ids.Contains(c.Id)).ExecuteDeleteAsync(cancellationToken);
        }
        toolCalls += await db.ToolCalls.Where(t => t.UserId == userId).ExecuteDeleteAsync(cancellationToken);
        var memories = await db.Memories.Where(m => m.UserId == userId).ExecuteDeleteAsync(cancellationToken);
        var memoryCollection = MemorySnapshot.Collection(userId);
        embeddings += await db.Embeddings.Where(e => e.Collection == memoryCollection).ExecuteDeleteAsync(cancellationToken);

        var result = new ForgottenUser(userId, conversations.Count, messages, summaries, approvals, toolCalls, memories, embeddings, idempotency);
        await audit.RecordAsync(db, actor, AuditActions.UserForgotten, $"user:{UserHash.Of(userId)}", detail: result with { UserId = UserHash.Of(userId) },
            cancellationToken: cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        await cache.InvalidateAsync(UserMemories.CacheKey(userId));
        return result;
    }
}
