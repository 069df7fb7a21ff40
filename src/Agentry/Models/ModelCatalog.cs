using System.ClientModel;
using System.ClientModel.Primitives;
using System.Collections.Concurrent;
using System.Diagnostics;
using Agentry.Api;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;
using OpenAI;

namespace Agentry.Models;

/// <summary>A model an agent can talk to: the client pipeline and the name reported in responses.</summary>
public sealed record ResolvedModel(string Name, IChatClient Client);

/// <summary>
/// Turns an agent's <c>model</c> reference into an <see cref="IChatClient"/> pipeline, built once per endpoint and
/// model. This is the only place that knows about providers; everything else sees <see cref="IChatClient"/>.
/// </summary>
public sealed class ModelCatalog(
    IOptions<ModelOptions> options, IOptions<Observability.ObservabilityOptions> observability, IHttpClientFactory httpClients, IServiceProvider services)
{
    readonly ConcurrentDictionary<string, ResolvedModel> _clients = new(StringComparer.Ordinal);
    readonly ModelOptions _options = options.Value;

    public string DefaultModel => _options.EffectiveDefaultModel;

    /// <summary>Whether <paramref name="model"/> parses and names a configured endpoint (used to validate agents).</summary>
    public bool IsAvailable(string? model, out string problem)
    {
        problem = "";
        if (!ModelReference.TryParse(model ?? DefaultModel, out var reference))
        {
            problem = "Must be 'offline', 'endpoint' or 'endpoint/model' (for example 'openai/gpt-4o').";
            return false;
        }
        if (reference.IsOffline || FindEndpoint(reference.Endpoint) is not null) return true;
        problem = $"No model endpoint named '{reference.Endpoint}' is configured (Models:Endpoints:{reference.Endpoint}).";
        return false;
    }

    /// <exception cref="ApiProblemException">503 when the reference names an endpoint that is not configured.</exception>
    public ResolvedModel Resolve(string? model)
    {
        var text = string.IsNullOrWhiteSpace(model) ? DefaultModel : model;
        if (!IsAvailable(text, out var problem))
            throw new ApiProblemException(503, ProblemTypes.ModelNotConfigured, "Model not configured", $"Model '{text}': {problem}");
        var reference = ModelReference.TryParse(text, out var parsed) ? parsed : throw new UnreachableException();
        return _clients.GetOrAdd(reference.ToString(), _ => Build(reference));
    }

    ResolvedModel Build(ModelReference reference)
    {
        if (reference.IsOffline) return new ResolvedModel(ModelOptions.Offline, Pipeline(new OfflineChatClient()));

        var (endpointName, endpoint) = FindEndpoint(reference.Endpoint)!.Value;
        var modelName = reference.Model ?? endpoint.DefaultModel ?? "gpt-4o";
        var chat = ClientFor(endpoint).GetChatClient(modelName).AsIChatClient();
        return new ResolvedModel($"{endpointName}/{modelName}", Pipeline(chat));
    }

    /// <summary>
    /// An embedding model of a configured endpoint (<c>openai/text-embedding-3-small</c>), through the same resilient
    /// HTTP pipeline as chat; null for <c>offline</c> (the caller keeps the local model).
    /// </summary>
    /// <exception cref="ApiProblemException">503 when the reference names an endpoint that is not configured.</exception>
    public IEmbeddingGenerator<string, Embedding<float>>? Embeddings(string reference)
    {
        if (!IsAvailable(reference, out var problem))
            throw new ApiProblemException(503, ProblemTypes.ModelNotConfigured, "Model not configured", $"Embedding model '{reference}': {problem}");
        var parsed = ModelReference.TryParse(reference, out var value) ? value : throw new UnreachableException();
        if (parsed.IsOffline) return null;
        var (_, endpoint) = FindEndpoint(parsed.Endpoint)!.Value;
        return ClientFor(endpoint).GetEmbeddingClient(parsed.Model ?? "text-embedding-3-small").AsIEmbeddingGenerator();
    }

    OpenAIClient ClientFor(ModelEndpointOptions endpoint)
    {
        var clientOptions = new OpenAIClientOptions
        {
            Transport = new HttpClientPipelineTransport(httpClients.CreateClient(ModelsExtensions.UpstreamHttpClient)),
            // Retries, timeouts and the circuit breaker live in the HttpClient's resilience handler; the SDK's own would stack on top.
            RetryPolicy = new ClientRetryPolicy(maxRetries: 0),
            NetworkTimeout = _options.Resilience.TotalTimeout + TimeSpan.FromSeconds(5),
        };
        var isAzure = endpoint.Provider.Equals("azure-openai", StringComparison.OrdinalIgnoreCase);
        if (isAzure)
        {
            // Azure OpenAI's v1 API is OpenAI-compatible under /openai/v1 and takes the key in an api-key header.
            clientOptions.Endpoint = new Uri(endpoint.BaseUrl!.TrimEnd('/') + "/openai/v1/");
            clientOptions.AddPolicy(new ApiKeyHeaderPolicy(endpoint.ApiKey!), PipelinePosition.PerCall);
        }
        else if (!string.IsNullOrWhiteSpace(endpoint.BaseUrl))
        {
            clientOptions.Endpoint = new Uri(endpoint.BaseUrl);
        }

        // Local OpenAI-compatible servers (Ollama, llama.cpp) need no key, but the SDK insists on a non-empty one.
        var key = string.IsNullOrWhiteSpace(endpoint.ApiKey) ? "not-needed" : endpoint.ApiKey;
        return new OpenAIClient(new ApiKeyCredential(key), clientOptions);
    }

    IChatClient Pipeline(IChatClient inner) =>
        // Tool calls and handoffs are run by the turn (Conversations/AgentLoop), not by function-invoking middleware, so
        // limits, approvals and handoffs apply the same way to every provider. No logging middleware: a failed call is
        // logged once, concisely, by ModelInvoker, and the OpenTelemetry span records each call.
        new ChatClientBuilder(inner)
            .UseOpenTelemetry(Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance, "Agentry.Models", o => o.EnableSensitiveData = observability.Value.RecordContent)
            .Build(services);

    (string Name, ModelEndpointOptions Options)? FindEndpoint(string name)
    {
        foreach (var (key, value) in _options.Endpoints)
            if (key.Equals(name, StringComparison.OrdinalIgnoreCase)) return (key.ToLowerInvariant(), value);
        return null;
    }

    sealed class ApiKeyHeaderPolicy(string apiKey) : PipelinePolicy
    {
        public override void Process(PipelineMessage message, IReadOnlyList<PipelinePolicy> pipeline, int currentIndex)
        {
            message.Request.Headers.Set("api-key", apiKey);
            ProcessNext(message, pipeline, currentIndex);
        }

        public override ValueTask ProcessAsync(PipelineMessage message, IReadOnlyList<PipelinePolicy> pipeline, int currentIndex)
        {
            message.Request.Headers.Set("api-key", apiKey);
            return ProcessNextAsync(message, pipeline, currentIndex);
        }
    }
}
