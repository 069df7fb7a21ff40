using System.Collections.Concurrent;
using Agentry.Operations;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace Agentry.Models;

/// <summary>
/// Asks each configured OpenAI-compatible endpoint for its model list (cheap, no tokens), at most once per interval.
/// A provider that does not answer makes the service Degraded, not unready: every instance shares the provider, so
/// taking instances out of the load balancer would not help, while the other endpoints and the offline model still work.
/// </summary>
public sealed class ModelProviderHealthCheck(IOptions<ModelOptions> models, IOptions<HealthOptions> options, IHttpClientFactory http, TimeProvider time) : IHealthCheck
{
    readonly ConcurrentDictionary<string, (DateTimeOffset At, string? Problem)> Probes = new();

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var data = new Dictionary<string, object>();
        var problems = new List<string>();
        foreach (var (name, endpoint) in models.Value.Endpoints.Where(e => e.Value.IsConfigured))
        {
            var url = (endpoint.Provider == "azure-openai" ? endpoint.BaseUrl!.TrimEnd('/') + "/openai/v1" : (endpoint.BaseUrl ?? "https://api.openai.com/v1").TrimEnd('/')) + "/models";
            var cacheKey = $"{name}|{url}";
            if (!Probes.TryGetValue(cacheKey, out var probe) || time.GetUtcNow() - probe.At > options.Value.ModelProbeInterval)
            {
                probe = (time.GetUtcNow(), await ProbeAsync(url, endpoint, cancellationToken));
                Probes[cacheKey] = probe;
            }
            data[name] = probe.Problem ?? "reachable";
            if (probe.Problem is not null) problems.Add($"{name}: {probe.Problem}");
        }
        data["default"] = models.Value.EffectiveDefaultModel;
        return problems.Count == 0
            ? HealthCheckResult.Healthy(data.Count == 1 ? "Offline model only." : "Model endpoints reachable.", data)
            : HealthCheckResult.Degraded(string.Join("; ", problems), data: data);
    }

    async Task<string?> ProbeAsync(string url, ModelEndpointOptions endpoint, CancellationToken cancellationToken)
    {
        try
        {
            using var client = http.CreateClient(OperationsExtensions.ProbeClient);
            using var request = new HttpRequestMessage(HttpMethod.Get, url);
            if (!string.IsNullOrWhiteSpace(endpoint.ApiKey))
            {
                request.Headers.Authorization = new("Bearer", endpoint.ApiKey);
                request.Headers.Add("api-key", endpoint.ApiKey);
            }
            using var response = await client.SendAsync(request, cancellationToken);
            return (int)response.StatusCode is >= 500 or 401 or 403 ? $"answered {(int)response.StatusCode}" : null;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return e is TaskCanceledException ? "timed out" : "unreachable";
        }
    }
}
