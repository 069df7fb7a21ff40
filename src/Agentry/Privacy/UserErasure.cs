using Agentry.Audit;
using Agentry.Data;
using Agentry.Memory;
using Microsoft.EntityFrameworkCore;

namespace Agentry.Privacy;

/// <summary>What forgetting a user deleted, by kind.</summary>
public sealed record ForgottenUser(
    string UserId, int Conversations, int Messages, int Summaries, int Approvals, int ToolCalls, int Memories, int Embeddings, int IdempotencyRecords, int Responses);

/// <summary>
/// Deletes everything stored about a user, in one transaction: their conversations with every message, summary, approval,
/// tool-ledger row, vector, replayable response and stored response of the Responses API, and their memories with their vectors. The audit event names the
/// user by <see cref="UserHash"/>; what the audit log already says about their conversations (ids, actions) stays, as
/// the record that it happened. Take <c>agentry export user</c> first to hand the user their data.
/// </summary>
public sealed class UserErasure(AgentryDbContext db, SnapshotCache cache, AuditLog audit)
{
    public async Task<ForgottenUser> ForgetAsync(string userId, AuditActor actor, CancellationToken cancellationToken)
    {
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        var conversations = await db.Conversations.Where(c => c.UserId == userId).Select(c => c.Id).ToListAsync(cancellationToken);
        int messages = 0, summaries = 0, approvals = 0, toolCalls = 0, embeddings = 0, idempotency = 0, responses = 0;
        foreach (var ids in conversations.Chunk(ConversationRows.MaxBatch))
        {
            var deleted = await ConversationRows.DeleteAsync(db, ids, cancellationToken);
            (messages, summaries, approvals) = (messages + deleted.Messages, summaries + deleted.Summaries, approvals + deleted.Approvals);
            (toolCalls, embeddings, idempotency) = (toolCalls + deleted.ToolCalls, embeddings + deleted.Embeddings, idempotency + deleted.IdempotencyRecords);
            responses += deleted.Responses;
        }
        toolCalls += await db.ToolCalls.Where(t => t.UserId == userId).ExecuteDeleteAsync(cancellationToken);
        // Responses whose turn never committed (a background one refused at start) have no conversation to go with.
        responses += await db.Responses.Where(r => r.UserId == userId).ExecuteDeleteAsync(cancellationToken);
        var memories = await db.Memories.Where(m => m.UserId == userId).ExecuteDeleteAsync(cancellationToken);
        var memoryCollection = MemorySnapshot.Collection(userId);
        embeddings += await db.Embeddings.Where(e => e.Collection == memoryCollection).ExecuteDeleteAsync(cancellationToken);

        var result = new ForgottenUser(userId, conversations.Count, messages, summaries, approvals, toolCalls, memories, embeddings, idempotency, responses);
        await audit.RecordAsync(db, actor, AuditActions.UserForgotten, $"user:{UserHash.Of(userId)}", detail: result with { UserId = UserHash.Of(userId) },
            cancellationToken: cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        await cache.InvalidateAsync(UserMemories.CacheKey(userId));
        return result;
    }
}
