using System.Globalization;
using System.Numerics.Tensors;
using Agentry.Api;
using Microsoft.Extensions.AI;

namespace Agentry.Agents;

/// <summary>
/// How a router agent picks a specialist without calling an LLM: the user's message is embedded locally and compared
/// with each handoff target's description and example utterances.
/// </summary>
public sealed record RoutingOptions
{
    /// <summary><c>semantic</c> routes by embedding similarity; absent or <c>none</c> lets the model decide (transfer_to_… tools).</summary>
    public string Mode { get; init; } = "none";
    /// <summary>Lowest cosine similarity that counts as a match.</summary>
    public double Threshold { get; init; } = 0.45;
    /// <summary>Agent that answers when nothing matches; empty means the router answers itself.</summary>
    public string? Fallback { get; init; }
    /// <summary>Example user messages per target agent; they sharpen routing beyond the targets' descriptions.</summary>
    public Dictionary<string, List<string>> Examples { get; init => field = value ?? []; } = [];

    [YamlDotNet.Serialization.YamlIgnore] // derived, not part of the definition
    public bool IsSemantic => Mode == "semantic";

    public void Validate(ValidationErrors errors, IReadOnlyCollection<string> handoffs)
    {
        if (Mode is not ("none" or "semantic")) errors.Add("routing.mode", "Use 'semantic' or 'none'.");
        errors.Range("routing.threshold", Threshold, 0.01, 1);
        if (Fallback is not null) errors.Slug("routing.fallback", Fallback);
        foreach (var (target, examples) in Examples)
        {
            if (!handoffs.Contains(target)) errors.Add($"routing.examples.{target}", "Examples are for handoff targets; add it to handoffs.");
            errors.Count($"routing.examples.{target}", examples, 100);
        }
        if (IsSemantic && handoffs.Count == 0) errors.Add("routing", "Semantic routing needs handoff targets.");
    }
}

/// <summary>Where the router sends a message, with the evidence.</summary>
public sealed record RouteDecision(string? Target, double Score, string Reason);

/// <summary>Embeds the user's message and each target's description and examples, and picks the most similar target.</summary>
public sealed class SemanticRouter(IEmbeddingGenerator<string, Embedding<float>> embeddings)
{
    public async Task<RouteDecision> RouteAsync(AgentDefinition router, string message, IReadOnlyList<AgentDefinition> targets, CancellationToken cancellationToken)
    {
        var candidates = new List<(string Agent, string Text)>();
        foreach (var agent in targets)
        {
            if (!string.IsNullOrWhiteSpace(agent.Description)) candidates.Add((agent.Id, agent.Description));
            foreach (var example in router.Routing.Examples.GetValueOrDefault(agent.Id) ?? []) candidates.Add((agent.Id, example));
        }
        if (candidates.Count == 0) return new RouteDecision(null, 0, "no routing targets");

        var vectors = await embeddings.GenerateAsync([message, .. candidates.Select(c => c.Text)], cancellationToken: cancellationToken);
        var query = vectors[0].Vector;
        var best = candidates.Select((c, i) => (c.Agent, c.Text, Score: (double)TensorPrimitives.CosineSimilarity(query.Span, vectors[i + 1].Vector.Span)))
            .MaxBy(c => c.Score);
        var score = best.Score.ToString("0.00", CultureInfo.InvariantCulture);
        return best.Score >= router.Routing.Threshold
            ? new RouteDecision(best.Agent, best.Score, $"semantic routing: {score} similar to \"{best.Text}\"")
            : new RouteDecision(null, best.Score, $"semantic routing: best match {best.Agent} at {score}, below {router.Routing.Threshold}");
    }
}
