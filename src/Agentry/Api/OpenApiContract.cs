using System.Reflection;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace Agentry.Api;

/// <summary>
/// Makes the generated OpenAPI document an exact contract: every status an operation can answer is declared with its
/// body (problems as <c>application/problem+json</c>), optional fields are not required, numbers are numbers, nullable
/// references do not match twice, and the health and metrics endpoints are described too. A test validates every
/// response the suite receives against the served document, so a drift fails the build.
/// </summary>
public static class OpenApiContract
{
    public const string ProblemSchema = "Problem";
    const string ProblemMediaType = "application/problem+json";

    public static void Configure(OpenApiOptions options)
    {
        options.AddSchemaTransformer((schema, context, _) =>
        {
            // Optional means nullable here: a property that may be null need not be sent (records make every constructor
            // parameter "required" otherwise).
            if (schema.Required is { Count: > 0 } required)
                foreach (var property in context.JsonTypeInfo.Properties)
                    if (IsNullable(property)) required.Remove(property.Name);
            // Timestamps are strings (the converter writes ISO-8601 UTC), which the generator cannot see through a converter.
            if (context.JsonTypeInfo.Type == typeof(DateTimeOffset) || context.JsonTypeInfo.Type == typeof(DateTimeOffset?))
                schema.Type = context.JsonTypeInfo.Type == typeof(DateTimeOffset) ? JsonSchemaType.String : JsonSchemaType.String | JsonSchemaType.Null;
            return Task.CompletedTask;
        });

        options.AddOperationTransformer((operation, context, _) =>
        {
            // Paging: the reference page shows the range and default of every limit.
            foreach (var parameter in operation.Parameters?.OfType<OpenApiParameter>() ?? [])
                if (parameter is { Name: "limit", In: ParameterLocation.Query, Schema: OpenApiSchema limit })
                {
                    limit.Minimum = "1";
                    limit.Maximum = Pagination.MaxLimit.ToString(System.Globalization.CultureInfo.InvariantCulture);
                    limit.Default = System.Text.Json.Nodes.JsonValue.Create(Pagination.DefaultLimit);
                    parameter.Description ??= $"Items per page, 1 to {Pagination.MaxLimit} (default {Pagination.DefaultLimit}).";
                }
            var metadata = context.Description.ActionDescriptor.EndpointMetadata;
            var anonymous = metadata.OfType<IAllowAnonymous>().Any();
            operation.Responses ??= [];
            if (!anonymous)
            {
                AddProblem(operation, context.Document, "401", "No valid API key (missing, unknown, revoked or expired).");
                AddProblem(operation, context.Document, "403", "The key lacks the scope this operation needs.");
            }
            if (context.Description.RelativePath?.StartsWith("v1/", StringComparison.Ordinal) == true)
                AddProblem(operation, context.Document, "400", "The request cannot be read: a malformed parameter or body, or a NUL character (%00) in the path or query.");
            AddProblem(operation, context.Document, "429", "A rate limit, concurrency limit or token budget was reached; see Retry-After.");
            AddProblem(operation, context.Document, "500", "A bug; the log has the details under the same traceId.");
            foreach (var (_, response) in operation.Responses)
            {
                if (response.Content is not { } content) continue;
                // Problem responses are problem+json with the one problem schema, whatever the generator guessed.
                if (content.ContainsKey(ProblemMediaType) || content.Values.Any(m => m.Schema is OpenApiSchemaReference { Reference.Id: "ProblemDetails" or "HttpValidationProblemDetails" }))
                {
                    content.Clear();
                    content[ProblemMediaType] = new OpenApiMediaType { Schema = new OpenApiSchemaReference(ProblemSchema, context.Document) };
                }
                // A stream or a CSV export is text, not the JSON shape of the same response.
                if (content.TryGetValue("text/event-stream", out var events))
                    events.Schema = new OpenApiSchema { Type = JsonSchemaType.String, Description = "Server-Sent Events: message.delta, tool.call, tool.result, handoff, rule, approval.pending, workflow.step, message.completed, then turn.completed or error." };
                if (content.TryGetValue("text/csv", out var csv)) csv.Schema = new OpenApiSchema { Type = JsonSchemaType.String };
            }
            return Task.CompletedTask;
        });

        options.AddDocumentTransformer((document, _, _) =>
        {
            document.Components ??= new OpenApiComponents();
            document.Components.Schemas ??= new Dictionary<string, IOpenApiSchema>();
            document.Components.Schemas[ProblemSchema] = Problem();
            document.Components.Schemas.Remove("ProblemDetails");
            document.Components.Schemas.Remove("HttpValidationProblemDetails");
            foreach (var schema in document.Components.Schemas.Values.OfType<OpenApiSchema>()) NullableRefsMatchOnce(schema);
            foreach (var path in document.Paths.Values)
                foreach (var operation in path.Operations?.Values ?? Enumerable.Empty<OpenApiOperation>())
                    foreach (var response in operation.Responses?.Values ?? Enumerable.Empty<IOpenApiResponse>())
                        foreach (var media in response.Content?.Values ?? Enumerable.Empty<OpenApiMediaType>())
                            if (media.Schema is OpenApiSchema schema) NullableRefsMatchOnce(schema);
            Operations.OperationsApi.DescribeHealthAndMetrics(document);
            // The server address is the one the request came to; without a trailing slash, paths append cleanly.
            foreach (var server in document.Servers ?? []) server.Url = server.Url?.TrimEnd('/');
            document.Tags ??= new HashSet<OpenApiTag>();
            foreach (var (name, description) in TagDescriptions)
            {
                if (document.Tags.FirstOrDefault(t => t.Name == name) is { } tag) tag.Description ??= description;
                else document.Tags.Add(new OpenApiTag { Name = name, Description = description });
            }
            return Task.CompletedTask;
        });
    }

    static readonly NullabilityInfoContext Nullability = new();

    /// <summary>A value type wrapped in Nullable, or a reference the code annotates as nullable (<c>string?</c>).</summary>
    static readonly (string Name, string Description)[] TagDescriptions =
    [
        ("Conversations", "Conversations and turns: send a message, get the agent's reply as JSON or a stream."),
        ("Agents", "Agent definitions from YAML files and from the API, and dry runs of their rules."),
        ("Tools", "The tools agents may call."),
        ("MCP", "MCP servers whose tools agents use (see docs/mcp.md); MCP clients talk to the agents at /mcp."),
        ("Approvals", "Tool calls a rule held for a human decision."),
        ("Keys", "API keys, their scopes and limits."),
        ("Audit", "The tamper-evident audit log."),
        ("Backups", "Online backups of the database, each verified against its manifest."),
        ("Knowledge", "Knowledge bases: the documents agents answer from and cite, and search over them (see docs/knowledge.md)."),
        ("Users", "One user's stored data: what agents remember about them, an export for moving it or answering a data-access request, and forgetting them."),
        ("Observability", "Grouped errors, usage analytics and resource health."),
        ("Evals", "Eval suites (scripted conversations with expectations) run through the real agents with tools that act running dry, their reports, and drafts from real conversations (see docs/evals.md)."),
        ("Operations", "The production-readiness report: this configuration and its data against the production checklist (also 'agentry doctor')."),
        ("OpenAI compatible", "OpenAI's models, Chat Completions and Responses APIs with agents as the models, for the SDKs and chat UIs teams already use (see docs/openai-compatibility.md). Errors use OpenAI's shape."),
    ];

    static bool IsNullable(System.Text.Json.Serialization.Metadata.JsonPropertyInfo property)
    {
        if (Nullable.GetUnderlyingType(property.PropertyType) is not null) return true;
        if (property.PropertyType.IsValueType) return false;
        lock (Nullability)
            return property.AttributeProvider switch
            {
                PropertyInfo member => Nullability.Create(member).ReadState == NullabilityState.Nullable,
                FieldInfo member => Nullability.Create(member).ReadState == NullabilityState.Nullable,
                _ => false,
            };
    }

    /// <summary>
    /// The generator writes a nullable reference as <c>oneOf: [null, $ref]</c>; when the referenced schema accepts null
    /// too (any JSON, for metadata), <c>null</c> matches both and fails <c>oneOf</c>. <c>anyOf</c> says what is meant.
    /// </summary>
    static void NullableRefsMatchOnce(OpenApiSchema schema)
    {
        foreach (var property in schema.Properties?.Values.OfType<OpenApiSchema>() ?? [])
        {
            if (property.OneOf is { Count: > 0 } oneOf && oneOf.Any(s => s.Type == JsonSchemaType.Null))
            {
                property.AnyOf = oneOf;
                property.OneOf = null;
            }
            NullableRefsMatchOnce(property);
        }
        if (schema.Items is OpenApiSchema items) NullableRefsMatchOnce(items);
    }

    static void AddProblem(OpenApiOperation operation, OpenApiDocument? document, string status, string description)
    {
        if (operation.Responses!.ContainsKey(status)) return;
        operation.Responses[status] = new OpenApiResponse
        {
            Description = description,
            Content = new Dictionary<string, OpenApiMediaType> { [ProblemMediaType] = new() { Schema = new OpenApiSchemaReference(ProblemSchema, document) } },
        };
    }

    /// <summary>RFC 9457 with Agentry's members: every problem has a type, title, status, detail and traceId; validation problems add errors.</summary>
    static OpenApiSchema Problem() => new()
    {
        Type = JsonSchemaType.Object,
        Description = "An RFC 9457 problem. Clients branch on `type`; docs/api.md lists them all.",
        Required = new HashSet<string> { "type", "title", "status", "detail", "traceId" },
        Properties = new Dictionary<string, IOpenApiSchema>
        {
            ["type"] = new OpenApiSchema { Type = JsonSchemaType.String, Description = "A stable URN such as urn:agentry:problem:validation-failed." },
            ["title"] = new OpenApiSchema { Type = JsonSchemaType.String },
            ["status"] = new OpenApiSchema { Type = JsonSchemaType.Integer, Format = "int32" },
            ["detail"] = new OpenApiSchema { Type = JsonSchemaType.String },
            ["instance"] = new OpenApiSchema { Type = JsonSchemaType.String | JsonSchemaType.Null },
            ["traceId"] = new OpenApiSchema { Type = JsonSchemaType.String, Description = "Joins this answer to the log lines and trace of the request." },
            ["errors"] = new OpenApiSchema
            {
                Type = JsonSchemaType.Object, Description = "Validation problems: field → messages.",
                AdditionalProperties = new OpenApiSchema { Type = JsonSchemaType.Array, Items = new OpenApiSchema { Type = JsonSchemaType.String } },
            },
        },
        // RFC 9457 allows extension members (fileErrors for a failed reload, for example).
        AdditionalPropertiesAllowed = true,
    };

    /// <summary>A problem response for operations the document describes by hand (health and metrics).</summary>
    public static OpenApiResponse ProblemResponse(OpenApiDocument document, string description) => new()
    {
        Description = description,
        Content = new Dictionary<string, OpenApiMediaType> { [ProblemMediaType] = new() { Schema = new OpenApiSchemaReference(ProblemSchema, document) } },
    };
}
