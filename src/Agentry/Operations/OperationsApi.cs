using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.OpenApi;

namespace Agentry.Operations;

public static class OperationsApi
{
    /// <summary>Liveness says only that the process answers; readiness checks what a request needs (database, migrations).</summary>
    public static WebApplication MapOperationsApi(this WebApplication app)
    {
        app.MapHealthChecks("/health/live", new HealthCheckOptions { Predicate = _ => false, ResponseWriter = WriteHealth })
            .WithTags("Health").ExcludeFromDescription().AllowAnonymous();
        app.MapHealthChecks("/health/ready", new HealthCheckOptions { Predicate = c => c.Tags.Contains("ready"), ResponseWriter = WriteHealth })
            .WithTags("Health").ExcludeFromDescription().AllowAnonymous();
        // Every check with its details, for operators; the anonymous probes above say only what a load balancer needs.
        app.MapHealthChecks("/health", new HealthCheckOptions { ResponseWriter = WriteDetailedHealth })
            .WithTags("Health").ExcludeFromDescription().RequireAuthorization(Security.Policies.Admin);

        var backups = app.MapGroup("/v1/admin/backups").WithTags("Backups").RequireAuthorization(Security.Policies.Admin);
        backups.MapGet("/", ListBackups).WithName("ListBackups")
            .WithSummary("Backups in the backup folder, newest first, each with its manifest and verification.");
        backups.MapPost("/", CreateBackup).WithName("CreateBackup").ProducesProblem(StatusCodes.Status409Conflict)
            .WithSummary("Take a backup now and verify it (restore test when due); answers when it is done.");

        app.MapGet("/v1/admin/users/{userId}/export", ExportUser).WithTags("Users").WithName("ExportUserData")
            .RequireAuthorization(Security.Policies.Admin).ProducesProblem(StatusCodes.Status404NotFound)
            .WithSummary("Everything stored about one user: conversations with their messages and approvals, as JSON that 'agentry import user' reads.");
        return app;
    }

    /// <summary>The backups, and how old the newest verified one is (what the backup-stale alert watches).</summary>
    public sealed record BackupList(IReadOnlyList<Backups.BackupManifest> Data, string Folder, double? LastVerifiedAgeSeconds);

    static Ok<BackupList> ListBackups(Backups.Backups backups, TimeProvider time)
    {
        var list = backups.List();
        var verified = list.FirstOrDefault(m => m.Verification is { Ok: true });
        return TypedResults.Ok(new BackupList(list, backups.Folder, verified is null ? null : Math.Round((time.GetUtcNow() - verified.CreatedAt).TotalSeconds)));
    }

    static async Task<Results<Created<Backups.BackupManifest>, ProblemHttpResult>> CreateBackup(Backups.Backups backups, IHostApplicationLifetime lifetime)
    {
        try
        {
            // A client that gives up waiting does not cancel the backup; stopping the service does.
            var manifest = await backups.CreateAsync(null, lifetime.ApplicationStopping);
            return TypedResults.Created($"/v1/admin/backups#{manifest.Id}", manifest);
        }
        catch (Backups.BackupInProgressException e)
        {
            return Api.Problems.Conflict(Api.ProblemTypes.BackupInProgress, e.Message);
        }
    }

    static async Task<Results<Ok<Transfers.UserDataExport>, ProblemHttpResult>> ExportUser(
        string userId, Transfers.UserDataTransfer transfer, HttpContext http, CancellationToken ct) =>
        await transfer.ExportAsync(userId, Audit.AuditActor.From(http), ct) is { } export
            ? TypedResults.Ok(export)
            : Api.Problems.NotFound(Api.ProblemTypes.UserNotFound, $"Nothing is stored for user '{userId}'.");

    /// <summary>
    /// What a load balancer needs, and nothing an anonymous caller should learn: each check's name and status, but not
    /// its description (provider addresses and their state, free disk) or the version; those are on the admin /health.
    /// </summary>
    static Task WriteHealth(HttpContext context, HealthReport report)
    {
        context.Response.ContentType = "application/json";
        var body = new
        {
            status = report.Status.ToString(),
            checks = report.Entries.Select(e => new { name = e.Key, status = e.Value.Status.ToString() }),
        };
        return JsonSerializer.SerializeAsync(context.Response.Body, body, JsonSerializerOptions.Web, context.RequestAborted);
    }

    static Task WriteDetailedHealth(HttpContext context, HealthReport report)
    {
        context.Response.ContentType = "application/json";
        var body = new
        {
            status = report.Status.ToString(),
            version = OperationsExtensions.Version,
            durationMs = Math.Round(report.TotalDuration.TotalMilliseconds, 1),
            checks = report.Entries.Select(e => new
            {
                name = e.Key,
                status = e.Value.Status.ToString(),
                description = e.Value.Description,
                durationMs = Math.Round(e.Value.Duration.TotalMilliseconds, 1),
                tags = e.Value.Tags,
                data = e.Value.Data,
            }),
        };
        return JsonSerializer.SerializeAsync(context.Response.Body, body, JsonSerializerOptions.Web, context.RequestAborted);
    }

    /// <summary>
    /// Health checks and the Prometheus endpoint are not route handlers, so the generator cannot see them; they are part
    /// of the contract all the same (load balancers and scrapers are clients too).
    /// </summary>
    public static void DescribeHealthAndMetrics(OpenApiDocument document)
    {
        document.Components!.Schemas!["HealthReport"] = new OpenApiSchema
        {
            Type = JsonSchemaType.Object, Required = new HashSet<string> { "status", "checks" }, AdditionalPropertiesAllowed = false,
            Properties = new Dictionary<string, IOpenApiSchema>
            {
                ["status"] = Status(),
                ["checks"] = new OpenApiSchema
                {
                    Type = JsonSchemaType.Array,
                    Items = new OpenApiSchema
                    {
                        Type = JsonSchemaType.Object, Required = new HashSet<string> { "name", "status" }, AdditionalPropertiesAllowed = false,
                        Properties = new Dictionary<string, IOpenApiSchema> { ["name"] = new OpenApiSchema { Type = JsonSchemaType.String }, ["status"] = Status() },
                    },
                },
            },
        };
        document.Components.Schemas["DetailedHealthReport"] = new OpenApiSchema
        {
            Type = JsonSchemaType.Object, Required = new HashSet<string> { "status", "version", "durationMs", "checks" },
            Properties = new Dictionary<string, IOpenApiSchema>
            {
                ["status"] = Status(),
                ["version"] = new OpenApiSchema { Type = JsonSchemaType.String },
                ["durationMs"] = new OpenApiSchema { Type = JsonSchemaType.Number },
                ["checks"] = new OpenApiSchema
                {
                    Type = JsonSchemaType.Array,
                    Items = new OpenApiSchema
                    {
                        Type = JsonSchemaType.Object, Required = new HashSet<string> { "name", "status", "durationMs", "tags", "data" },
                        Properties = new Dictionary<string, IOpenApiSchema>
                        {
                            ["name"] = new OpenApiSchema { Type = JsonSchemaType.String },
                            ["status"] = Status(),
                            ["description"] = new OpenApiSchema { Type = JsonSchemaType.String | JsonSchemaType.Null },
                            ["durationMs"] = new OpenApiSchema { Type = JsonSchemaType.Number },
                            ["tags"] = new OpenApiSchema { Type = JsonSchemaType.Array, Items = new OpenApiSchema { Type = JsonSchemaType.String } },
                            ["data"] = new OpenApiSchema { Type = JsonSchemaType.Object, Description = "Figures of the check (free disk, provider state, queue lengths)." },
                        },
                    },
                },
            },
        };

        OpenApiResponse Report(string schema, string description) => new()
        {
            Description = description,
            Content = new Dictionary<string, OpenApiMediaType> { ["application/json"] = new() { Schema = new OpenApiSchemaReference(schema, document) } },
        };
        OpenApiOperation Operation(string id, string summary, bool anonymous, IDictionary<string, IOpenApiResponse> responses)
        {
            var operation = new OpenApiOperation { OperationId = id, Summary = summary, Tags = new HashSet<OpenApiTagReference> { new("Health", document) }, Responses = new OpenApiResponses() };
            foreach (var (status, response) in responses) operation.Responses[status] = response;
            if (anonymous) operation.Security = [];
            else
            {
                operation.Responses["401"] = Api.OpenApiContract.ProblemResponse(document, "No valid API key.");
                operation.Responses["403"] = Api.OpenApiContract.ProblemResponse(document, "The key lacks the scope (admin; metrics for /metrics), and the client is not in an allowed network.");
            }
            return operation;
        }

        document.Tags ??= new HashSet<OpenApiTag>();
        document.Tags.Add(new OpenApiTag { Name = "Health", Description = "Probes for load balancers and orchestrators, details for operators, metrics for scrapers." });
        document.Paths["/health/live"] = new OpenApiPathItem
        {
            Operations = new Dictionary<HttpMethod, OpenApiOperation>
            {
                [HttpMethod.Get] = Operation("Liveness", "Liveness: the process answers (checks nothing else).", anonymous: true,
                    new Dictionary<string, IOpenApiResponse> { ["200"] = Report("HealthReport", "Alive.") }),
            },
        };
        document.Paths["/health/ready"] = new OpenApiPathItem
        {
            Operations = new Dictionary<HttpMethod, OpenApiOperation>
            {
                [HttpMethod.Get] = Operation("Readiness", "Readiness: database, disk, background workers and model provider; names and statuses only.", anonymous: true,
                    new Dictionary<string, IOpenApiResponse>
                    {
                        ["200"] = Report("HealthReport", "Ready (Healthy or Degraded)."), ["503"] = Report("HealthReport", "Not ready: a check is Unhealthy."),
                    }),
            },
        };
        document.Paths["/health"] = new OpenApiPathItem
        {
            Operations = new Dictionary<HttpMethod, OpenApiOperation>
            {
                [HttpMethod.Get] = Operation("DetailedHealth", "Every check with its description, duration and figures (admin).", anonymous: false,
                    new Dictionary<string, IOpenApiResponse>
                    {
                        ["200"] = Report("DetailedHealthReport", "Healthy or Degraded."), ["503"] = Report("DetailedHealthReport", "A check is Unhealthy."),
                    }),
            },
        };
        document.Paths["/metrics"] = new OpenApiPathItem
        {
            Operations = new Dictionary<HttpMethod, OpenApiOperation>
            {
                [HttpMethod.Get] = Operation("Metrics", "Prometheus metrics (a metrics or admin key, or an allowed network).", anonymous: false,
                    new Dictionary<string, IOpenApiResponse>
                    {
                        ["200"] = new OpenApiResponse
                        {
                            Description = "Prometheus text exposition format.",
                            Content = new Dictionary<string, OpenApiMediaType> { ["text/plain"] = new() { Schema = new OpenApiSchema { Type = JsonSchemaType.String } } },
                        },
                    }),
            },
        };
    }

    static OpenApiSchema Status() => new() { Type = JsonSchemaType.String, Enum = [JsonValue.Create("Healthy"), JsonValue.Create("Degraded"), JsonValue.Create("Unhealthy")] };
}
