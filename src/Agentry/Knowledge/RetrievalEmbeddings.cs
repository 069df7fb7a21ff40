using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;

namespace Agentry.Knowledge;

/// <summary>
/// The embedding model retrieval uses (knowledge passages, questions, memories), registered under <see cref="Key"/>: the
/// local model unless Knowledge:EmbeddingModel names a provider's, which then gets a cache of its own so a question
/// asked twice (the knowledge and the memory provider ask it in one turn) costs one call.
/// </summary>
public static class RetrievalEmbeddings
{
    public const string Key = "retrieval";

    public static IEmbeddingGenerator<string, Embedding<float>> Create(IServiceProvider services)
    {
        var reference = services.GetRequiredService<IOptions<KnowledgeOptions>>().Value.EmbeddingModel;
        var local = services.GetRequiredService<IEmbeddingGenerator<string, Embedding<float>>>();
        if (string.IsNullOrWhiteSpace(reference) || services.GetRequiredService<Models.ModelCatalog>().Embeddings(reference) is not { } remote) return local;
        return new Models.EmbeddingMemoryCache(remote, Models.EmbeddingMemoryCache.Create(16L * 1024 * 1024));
    }

    /// <summary>
    /// Whether a failed embedding call means the provider is unavailable now (an error answer, a broken connection, a
    /// timeout, the circuit open) rather than a bug or the caller giving up: retrieval then goes on without meaning.
    /// </summary>
    public static bool IsUnavailable(Exception e, CancellationToken cancellationToken) => e switch
    {
        OperationCanceledException => !cancellationToken.IsCancellationRequested,
        System.ClientModel.ClientResultException or HttpRequestException or TimeoutException or Polly.ExecutionRejectedException => true,
        _ => false,
    };
}
