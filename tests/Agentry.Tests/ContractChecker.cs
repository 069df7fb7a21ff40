using System.Collections.Concurrent;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.RegularExpressions;
using Json.Schema;

namespace Agentry.Tests;

/// <summary>
/// The served OpenAPI document, ready to judge responses: which operation a request hit, whether the status is one it
/// declares, and whether the body matches the declared schema (problems included). Built once per distinct document.
/// </summary>
public sealed partial class ContractDocument
{
    static readonly ConcurrentDictionary<string, ContractDocument> Cache = new(StringComparer.Ordinal);
    static int _documents;
    static int _built;
    static readonly EvaluationOptions Evaluation = new() { OutputFormat = OutputFormat.List };

    readonly JsonElement _document;
    readonly BuildOptions _build;
    readonly List<(Regex Pattern, string Template, string Method, JsonElement Operation)> _operations = [];
    readonly ConcurrentDictionary<string, JsonSchema> _schemas = new(StringComparer.Ordinal);
    // Addresses unique across documents: JsonSchema.Net may keep built schemas by address beyond one registry, and two
    // documents (apps started with different settings) must never resolve each other's references.
    readonly Uri _baseUri = new($"https://agentry.test/{Interlocked.Increment(ref _documents)}/openapi/v1.json");

    ContractDocument(string text)
    {
        _document = JsonDocument.Parse(text).RootElement.Clone();
        var registry = new SchemaRegistry();
        registry.Register(_baseUri, new JsonElementBaseDocument(_document, _baseUri));
        _build = new BuildOptions { SchemaRegistry = registry };
        foreach (var path in _document.GetProperty("paths").EnumerateObject())
        {
            var pattern = new Regex("^" + ParameterPattern().Replace(Regex.Escape(path.Name).Replace("\\{", "{", StringComparison.Ordinal), "[^/]+") + "$");
            foreach (var operation in path.Value.EnumerateObject())
                _operations.Add((pattern, path.Name, operation.Name.ToUpperInvariant(), operation.Value));
        }
    }

    public static ContractDocument For(string text) => Cache.GetOrAdd(text, t => new ContractDocument(t));

    public int OperationCount => _operations.Count;

    /// <summary>Why this response breaks the contract, or null when it keeps it.</summary>
    public string? Check(string method, string path, int status, string? mediaType, string? body)
    {
        var match = _operations.FirstOrDefault(o => o.Method == method && o.Pattern.IsMatch(path));
        if (match.Template is null)
        {
            // Not an operation (an unknown path or method, /docs): an error is still a problem.
            return status >= 400 && body is { Length: > 0 } && mediaType == "application/problem+json"
                ? Validate("#/components/schemas/Problem", body, $"{method} {path} → {status}")
                : null;
        }
        var where = $"{method} {match.Template} → {status}";
        if (!match.Operation.GetProperty("responses").TryGetProperty(status.ToString(System.Globalization.CultureInfo.InvariantCulture), out var response))
            return $"{where}: the status is not declared";
        if (mediaType == "text/event-stream")
            return response.TryGetProperty("content", out var declared) && declared.TryGetProperty(mediaType, out _) ? null : $"{where}: a stream is not declared";
        if (string.IsNullOrEmpty(body)) return null;
        if (!response.TryGetProperty("content", out var content)) return $"{where}: a body ({mediaType}) where the document declares none";
        if (mediaType is null || !content.TryGetProperty(mediaType, out var media)) return $"{where}: content type {mediaType} is not declared";
        if (mediaType is not ("application/json" or "application/problem+json") || !media.TryGetProperty("schema", out var schema)) return null;
        return Validate(schema.GetRawText(), body, where);
    }

    string? Validate(string schemaOrPointer, string body, string where)
    {
        // Each response schema is its own document (the registry takes one schema per address) whose references point
        // into the OpenAPI document registered at _baseUri.
        var schema = _schemas.GetOrAdd(schemaOrPointer, s =>
        {
            var text = (s.StartsWith('#') ? $$"""{"$ref":"{{s}}"}""" : s).Replace("\"#/components/", $"\"{_baseUri}#/components/", StringComparison.Ordinal);
            // Building registers the schema in the document's registry, a plain dictionary: two responses checked at once
            // (parallel requests of one test) corrupted it ("concurrent update was performed on this collection").
            lock (_build)
                return JsonSchema.Build(JsonDocument.Parse(text).RootElement, _build, new Uri($"https://agentry.test/responses/{Interlocked.Increment(ref _built)}"));
        });
        JsonElement instance;
        try
        {
            instance = JsonDocument.Parse(body).RootElement;
        }
        catch (JsonException)
        {
            return $"{where}: the body is not JSON";
        }
        EvaluationResults result;
        lock (_build) result = schema.Evaluate(instance, Evaluation); // references resolve through the same registry
        if (result.IsValid) return null;
        var errors = (result.Details ?? []).Where(d => d.Errors is { Count: > 0 })
            .SelectMany(d => d.Errors!.Select(e => $"{d.InstanceLocation} ({d.EvaluationPath}): {e.Value}")).Take(5);
        return $"{where}: the body does not match the schema: {string.Join("; ", errors)}\n{(body.Length > 600 ? body[..600] + "…" : body)}";
    }

    [GeneratedRegex(@"\{[^}]+\}")]
    private static partial Regex ParameterPattern();
}

/// <summary>A response that breaks the served OpenAPI document.</summary>
public sealed class ContractViolationException(string message) : Exception(message);

/// <summary>
/// Sits in every test client: each response is checked against the served document before the test sees it, so an
/// undeclared status, content type or shape fails the test that met it.
/// </summary>
public sealed class ContractCheckingHandler(Func<Task<ContractDocument>> document) : DelegatingHandler
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var response = await base.SendAsync(request, cancellationToken);
        var path = request.RequestUri!.AbsolutePath;
        if (path.StartsWith("/openapi/", StringComparison.Ordinal)) return response;
        var mediaType = response.Content.Headers.ContentType?.MediaType;
        string? body = null;
        // A stream is judged by its status and content type; its events are not one JSON body.
        if (mediaType != "text/event-stream")
        {
            await response.Content.LoadIntoBufferAsync(cancellationToken);
            body = await response.Content.ReadAsStringAsync(cancellationToken);
        }
        var violation = (await document()).Check(request.Method.Method, path, (int)response.StatusCode, mediaType, body);
        return violation is null ? response : throw new ContractViolationException(violation);
    }
}
