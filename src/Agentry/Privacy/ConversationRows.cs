using Agentry.Data;
using Agentry.Memory;
using Microsoft.EntityFrameworkCore;

namespace Agentry.Privacy;

/// <summary>What deleting conversations removed, by kind.</summary>
public sealed record DeletedConversations(int Conversations, int Messages, int Summaries, int Approvals, int ToolCalls, int Embeddings, int IdempotencyRecords, int Responses);

/// <summary>
/// Deletes conversations with everything that hangs off them: messages, summary, approvals, tool-ledger rows, message
/// vectors, the replayable responses that quote them and the Responses API's stored responses. Forgetting a user and retention both go through it, so they
/// cannot disagree about what a conversation leaves behind. Runs inside the caller's transaction.
/// </summary>
public static class ConversationRows
{
    /// <summary>Conversation ids per call: within SQLite's and PostgreSQL's parameter limits, short locks.</summary>
    public const int MaxBatch = 500;

    public static async Task<DeletedConversations> DeleteAsync(AgentryDbContext db, IReadOnlyCollection<string> ids, CancellationToken cancellationToken)
    {
        var messages = await db.Messages.Where(m => ids.Contains(m.ConversationId)).ExecuteDeleteAsync(cancellationToken);
        var summaries = await db.ConversationSummaries.Where(s => ids.Contains(s.ConversationId)).ExecuteDeleteAsync(cancellationToken);
        var approvals = await db.Approvals.Where(a => ids.Contains(a.ConversationId)).ExecuteDeleteAsync(cancellationToken);
        var toolCalls = await db.ToolCalls.Where(t => ids.Contains(t.ConversationId)).ExecuteDeleteAsync(cancellationToken);
        var collections = ids.Select(ConversationSearch.Collection).ToList();
        var embeddings = await db.Embeddings.Where(e => collections.Contains(e.Collection)).ExecuteDeleteAsync(cancellationToken);
        // A replayable (Idempotency-Key) response holds the turn's text; it names its conversation.
        var idempotency = 0;
        foreach (var id in ids)
            idempotency += await db.IdempotentRequests.Where(r => r.Response != null && r.Response.Contains(id)).ExecuteDeleteAsync(cancellationToken);
        var responses = await db.Responses.Where(r => ids.Contains(r.ConversationId)).ExecuteDeleteAsync(cancellationToken);
        var conversations = await db.Conversations.Where(c => ids.Contains(c.Id)).ExecuteDeleteAsync(cancellationToken);
        return new DeletedConversations(conversations, messages, summaries, approvals, toolCalls, embeddings, idempotency, responses);
    }
}
