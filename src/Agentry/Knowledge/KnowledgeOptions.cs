using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace Agentry.Knowledge;

/// <summary>Knowledge bases: where their files live, how documents are cut and how passages are found.</summary>
public sealed class KnowledgeOptions
{
    public const string Section = "Knowledge";

    /// <summary>
    /// Folder whose subfolders are knowledge bases (<c>knowledge/help-center/*.md</c>), synced at start like agent files:
    /// new and changed files are indexed, removed files are removed. Unset: <c>knowledge</c> inside the agents folder.
    /// </summary>
    public string? Directory { get; set; }

    /// <summary>Longest passage (chunk), in tokens (o200k). The local embedding model reads about 256 word pieces, so keep it near 200 with it.</summary>
    [Range(50, 4_000)]
    public int ChunkTokens { get; set; } = 200;

    /// <summary>How much of the end of a chunk the next one of the same section repeats, in tokens, so a sentence cut at a border is found whole.</summary>
    [Range(0, 1_000)]
    public int ChunkOverlapTokens { get; set; } = 30;

    /// <summary>Largest file accepted by <c>POST /v1/knowledge/{kb}/documents</c> (and the CLI), in bytes.</summary>
    [Range(1_024, 1_073_741_824)]
    public long MaxUploadBytes { get; set; } = 20 * 1024 * 1024;

    /// <summary>Longest document text kept after extraction, in characters.</summary>
    [Range(1_000, 100_000_000)]
    public int MaxDocumentChars { get; set; } = 5_000_000;

    /// <summary>
    /// A question retrieves passages only when one of them is at least this similar to it (cosine); the passages given
    /// are then those the fused ranking puts first, down to 0.6 of this. Unrelated questions (small talk, other topics)
    /// score well below it and retrieve nothing. The default suits the local model (all-MiniLM-L6-v2), measured on the
    /// help-center set in docs/knowledge.md; provider models score differently.
    /// </summary>
    [Range(0.0, 1.0)]
    public double MinSimilarity { get; set; } = 0.28;

    /// <summary>
    /// The embedding model knowledge bases and memories are searched with: null for the local model (all-MiniLM-L6-v2, in
    /// process), or a configured endpoint's model (<c>openai/text-embedding-3-small</c>). Passages embedded with another
    /// model are indexed again when it changes. Routing and similarity rules keep the local model: their thresholds are
    /// its scale. Set <see cref="MinSimilarity"/> for the model chosen.
    /// </summary>
    [MaxLength(200)]
    public string? EmbeddingModel { get; set; }

    /// <summary>How long an indexing claim lasts: a document claimed by an instance that died is indexed again after it.</summary>
    [Range(typeof(TimeSpan), "00:00:10", "01:00:00")]
    public TimeSpan IndexingLease { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>The effective folder: <see cref="Directory"/>, or <c>knowledge</c> in the agents folder.</summary>
    public string? EffectiveDirectory(string? agentsDirectory) =>
        !string.IsNullOrWhiteSpace(Directory) ? Directory : agentsDirectory is null ? null : Path.Combine(agentsDirectory, "knowledge");
}

/// <summary>Knowledge:EmbeddingModel must name an endpoint that is configured.</summary>
public sealed class KnowledgeOptionsValidator(IOptions<Models.ModelOptions> models) : IValidateOptions<KnowledgeOptions>
{
    public ValidateOptionsResult Validate(string? name, KnowledgeOptions options) =>
        string.IsNullOrWhiteSpace(options.EmbeddingModel) || models.Value.ReferenceProblem("Knowledge:EmbeddingModel", options.EmbeddingModel) is not { } problem
            ? ValidateOptionsResult.Success
            : ValidateOptionsResult.Fail(problem);
}
