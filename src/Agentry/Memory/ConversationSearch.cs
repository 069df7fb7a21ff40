using Agentry.Conversations;
using Agentry.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.AI;

namespace Agentry.Memory;

/// <summary>An earlier message found by <see cref="ConversationSearch"/>, and whether its words or its meaning matched.</summary>
public sealed record ConversationHit(long Sequence, string Role, string Content, string Match, float? Score);

/// <summary>
/// Finds earlier messages of one conversation: first those containing every word of the query, then those closest in
/// meaning (local sentence embeddings). A message is embedded the first time a search needs it and its vector kept in
/// the vector store, so each message is embedded once however often the conversation is searched.
/// </summary>
public sealed class ConversationSearch(AgentryDbContext db, IServiceScopeFactory scopes, IEmbeddingGenerator<string, Embedding<float>> embeddings)
{
    /// <summary>How many of the latest messages a search looks at.</summary>
    public const int Window = 500;

    /// <summary>Below this cosine similarity a message is not "about" the query (all-MiniLM-L6-v2 scores unrelated text near 0-0.2).</summary>
    public const float MinScore = 0.35f;

    public static string Collection(string conversationId) => $"conversation:{conversationId}";

    public async Task<IReadOnlyList<ConversationHit>> SearchAsync(string conversationId, string query, int top, CancellationToken cancellationToken)
    {
        var candidates = await db.Messages.AsNoTracking()
            .Where(m => m.ConversationId == conversationId && (m.Role == MessageRoles.User || m.Role == MessageRoles.Assistant))
            .OrderByDescending(m => m.Sequence).Take(Window).ToListAsync(cancellationToken);
        var words = query.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var hits = candidates.Where(m => words.Length > 0 && words.All(w => m.Content.Contains(w, StringComparison.OrdinalIgnoreCase))).Take(top)
            .Select(m => new ConversationHit(m.Sequence, m.Role, m.Content, "words", null)).ToList();
        if (hits.Count >= top || candidates.Count == 0 || string.IsNullOrWhiteSpace(query)) return hits;

        // The vectors are saved in a scope of their own: the request's context holds the running turn's unsaved work.
        await using var scope = scopes.CreateAsyncScope();
        var vectors = scope.ServiceProvider.GetRequiredService<IVectorStore>();
        var collection = Collection(conversationId);
        var model = StoredEmbedding.ModelOf(embeddings);
        var stored = await vectors.IdsAsync(collection, model, cancellationToken);
        var missing = candidates.Where(m => !stored.Contains(m.Id)).ToList();
        if (missing.Count > 0)
        {
            var generated = await embeddings.GenerateAsync(missing.Select(m => m.Content), cancellationToken: cancellationToken);
            await vectors.AddAsync(collection, model, missing.Zip(generated, (m, e) => (m.Id, e.Vector)).ToList(), cancellationToken);
        }
        var queryVector = await embeddings.GenerateVectorAsync(query, cancellationToken: cancellationToken);
        var byId = candidates.ToDictionary(m => m.Id);
        foreach (var match in await vectors.SearchAsync(collection, model, queryVector, top, MinScore, cancellationToken))
        {
            if (hits.Count >= top) break;
            if (!byId.TryGetValue(match.Id, out var message) || hits.Any(h => h.Sequence == message.Sequence)) continue;
            hits.Add(new ConversationHit(message.Sequence, message.Role, message.Content, "meaning", match.Score));
        }
        return hits;
    }
}
