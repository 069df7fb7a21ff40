using Microsoft.Extensions.Options;

namespace Agentry.Models;

public sealed class ModelOptions
{
    public const string Section = "Models";
    public const string Offline = "offline";

    /// <summary>
    /// Model used by agents that name none, as <c>endpoint/model</c> or <c>offline</c>. Empty means: <c>openai/gpt-4o</c>
    /// (or the openai endpoint's DefaultModel) when the openai endpoint has an API key or base URL, otherwise <c>offline</c>.
    /// </summary>
    public string? DefaultModel { get; set; }

    /// <summary>Named upstream endpoints; an agent's <c>model: ollama/llama3.1</c> uses the endpoint named <c>ollama</c>.</summary>
    public Dictionary<string, ModelEndpointOptions> Endpoints { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    public ModelResilienceOptions Resilience { get; set; } = new();

    /// <summary>Memory for cached sentence embeddings (routing examples, rule phrases, recent messages); least recently used go first.</summary>
    public int EmbeddingCacheMegabytes { get; set; } = 16;

    /// <summary>The local embedding model's weights (<see cref="Models.LocalEmbeddingWeights"/>); all report the same model, so changing it re-embeds nothing.</summary>
    public LocalEmbeddingWeights LocalEmbeddingWeights { get; set; } = LocalEmbeddingWeights.Int8Vocabulary;

    /// <summary>The default model after applying the rule described on <see cref="DefaultModel"/>.</summary>
    /// <summary>Why <paramref name="value"/> (of the setting <paramref name="setting"/>) cannot name a model here, or null: not a reference, or an endpoint that is not configured.</summary>
    public string? ReferenceProblem(string setting, string value) =>
        !ModelReference.TryParse(value, out var reference)
            ? $"{setting} '{value}' must be 'offline' or 'endpoint/model' (for example 'openai/gpt-4o-mini')."
            : reference.IsOffline || Endpoints.Keys.Any(k => k.Equals(reference.Endpoint, StringComparison.OrdinalIgnoreCase)) ? null
            : $"{setting} names the endpoint '{reference.Endpoint}', which is not configured (Models:Endpoints:{reference.Endpoint}).";

    public string EffectiveDefaultModel
    {
        get
        {
            if (!string.IsNullOrWhiteSpace(DefaultModel)) return DefaultModel.Trim();
            if (Endpoints.TryGetValue("openai", out var openai) && openai.IsConfigured) return $"openai/{openai.DefaultModel ?? "gpt-4o"}";
            return Offline;
        }
    }
}

public sealed class ModelEndpointOptions
{
    /// <summary><c>openai</c> (OpenAI or any OpenAI-compatible server) or <c>azure-openai</c>.</summary>
    public string Provider { get; set; } = "openai";

    /// <summary>Base URL of the API, e.g. http://localhost:11434/v1 for Ollama. Empty means api.openai.com.</summary>
    public string? BaseUrl { get; set; }

    public string? ApiKey { get; set; }

    /// <summary>Model used when an agent names only the endpoint (<c>model: ollama</c>).</summary>
    public string? DefaultModel { get; set; }

    public bool IsConfigured => !string.IsNullOrWhiteSpace(ApiKey) || !string.IsNullOrWhiteSpace(BaseUrl);
}

/// <summary>
/// Timeouts, retries and circuit breaking for calls to model providers. Agentry always asks the provider to stream, so a
/// hung provider is noticed within seconds whether or not the client streams: nothing for <see cref="TimeToFirstToken"/>,
/// or a pause of <see cref="StreamIdleTimeout"/> mid-answer, fails the call with 504.
/// </summary>
public sealed class ModelResilienceOptions
{
    /// <summary>Longest one HTTP attempt may wait for the provider to start its response before it is abandoned (and maybe retried).</summary>
    public TimeSpan AttemptTimeout { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>
    /// Longest wait, retries included, from sending a request to the first streamed chunk of the answer. Raise it for
    /// reasoning models that think for a long time before they say anything.
    /// </summary>
    public TimeSpan TimeToFirstToken { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Once the answer has started, the longest pause between two chunks.</summary>
    public TimeSpan StreamIdleTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Longest one model call may take from request to last chunk, however steadily it streams.</summary>
    public TimeSpan TotalTimeout { get; set; } = TimeSpan.FromSeconds(300);

    /// <summary>Retries after a transient failure (5xx, 429, timeout, connection error, an answer cut short before anyone saw it); 0 disables retries.</summary>
    public int MaxRetries { get; set; } = 2;

    /// <summary>First retry delay; later ones grow exponentially with jitter. A Retry-After header from the provider wins.</summary>
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Failure ratio over the sampling window at which the circuit opens (per provider host).</summary>
    public double CircuitBreakerFailureRatio { get; set; } = 0.5;

    /// <summary>Calls needed in the sampling window before the breaker may open.</summary>
    public int CircuitBreakerMinimumThroughput { get; set; } = 10;

    public TimeSpan CircuitBreakerBreakDuration { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Requests to one provider host waiting for its response to start, at once. One more is refused at once with 503
    /// and Retry-After rather than queued. The HTTP resilience handler's own default (1,000) refused a burst of 2,000
    /// streaming turns with unexplained 500s well before the server ran out of anything.
    /// </summary>
    public int MaxConcurrentCalls { get; set; } = 10_000;

    /// <summary>The first-token budget, never longer than the whole call may take.</summary>
    public TimeSpan EffectiveTimeToFirstToken => TimeToFirstToken < TotalTimeout ? TimeToFirstToken : TotalTimeout;
}

public sealed class ModelOptionsValidator : IValidateOptions<ModelOptions>
{
    static readonly string[] Providers = ["openai", "azure-openai"];

    public ValidateOptionsResult Validate(string? name, ModelOptions options)
    {
        var failures = new List<string>();
        foreach (var (endpointName, endpoint) in options.Endpoints)
        {
            var key = $"Models:Endpoints:{endpointName}";
            if (!ModelReference.IsValidEndpointName(endpointName) || endpointName.Equals(ModelOptions.Offline, StringComparison.OrdinalIgnoreCase))
                failures.Add($"{key}: endpoint names are 1-64 characters of a-z, 0-9 and '-', and 'offline' is reserved.");
            if (!Providers.Contains(endpoint.Provider, StringComparer.OrdinalIgnoreCase))
                failures.Add($"{key}:Provider is '{endpoint.Provider}'; use one of: {string.Join(", ", Providers)}.");
            if (!string.IsNullOrWhiteSpace(endpoint.BaseUrl) &&
                !(Uri.TryCreate(endpoint.BaseUrl, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https"))
                failures.Add($"{key}:BaseUrl '{endpoint.BaseUrl}' is not an absolute http(s) URL.");
            if (endpoint.Provider.Equals("azure-openai", StringComparison.OrdinalIgnoreCase))
            {
                if (string.IsNullOrWhiteSpace(endpoint.BaseUrl)) failures.Add($"{key}:BaseUrl is required for azure-openai (https://YOUR-RESOURCE.openai.azure.com).");
                if (string.IsNullOrWhiteSpace(endpoint.ApiKey)) failures.Add($"{key}:ApiKey is required for azure-openai.");
            }
        }

        var defaultModel = options.EffectiveDefaultModel;
        if (!ModelReference.TryParse(defaultModel, out var reference))
            failures.Add($"Models:DefaultModel '{defaultModel}' is not 'offline' or 'endpoint/model'.");
        else if (!reference.IsOffline && !options.Endpoints.ContainsKey(reference.Endpoint))
            failures.Add($"Models:DefaultModel '{defaultModel}' names endpoint '{reference.Endpoint}', which is not configured under Models:Endpoints.");

        var r = options.Resilience;
        if (r.AttemptTimeout <= TimeSpan.Zero || r.TotalTimeout < r.AttemptTimeout)
            failures.Add("Models:Resilience: AttemptTimeout must be positive and at most TotalTimeout.");
        if (r.MaxRetries is < 0 or > 10) failures.Add("Models:Resilience:MaxRetries must be between 0 and 10.");
        if (r.StreamIdleTimeout <= TimeSpan.Zero) failures.Add("Models:Resilience:StreamIdleTimeout must be positive.");
        if (r.TimeToFirstToken <= TimeSpan.Zero) failures.Add("Models:Resilience:TimeToFirstToken must be positive.");
        if (options.EmbeddingCacheMegabytes is < 1 or > 4096) failures.Add("Models:EmbeddingCacheMegabytes must be between 1 and 4096.");
        if (r.CircuitBreakerFailureRatio is <= 0 or > 1) failures.Add("Models:Resilience:CircuitBreakerFailureRatio must be in (0, 1].");
        if (r.CircuitBreakerMinimumThroughput < 2) failures.Add("Models:Resilience:CircuitBreakerMinimumThroughput must be at least 2.");
        if (r.MaxConcurrentCalls < 1) failures.Add($"Models:Resilience:MaxConcurrentCalls is {r.MaxConcurrentCalls}; it must be at least 1.");

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
