using System.Text.Json;
using System.Text.Json.Serialization;
using Agentry.Operations;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Options;
using Scalar.AspNetCore;

namespace Agentry.Api;

public sealed class ApiOptions
{
    public const string Section = "Api";

    /// <summary>Largest request body accepted, in bytes; larger bodies get a 413 problem.</summary>
    [System.ComponentModel.DataAnnotations.Range(1024, 64 * 1024 * 1024)]
    public long MaxRequestBodyBytes { get; set; } = 1024 * 1024;

    /// <summary>Deepest JSON nesting accepted in a request body.</summary>
    [System.ComponentModel.DataAnnotations.Range(4, 256)]
    public int MaxJsonDepth { get; set; } = 32;
}

public static class ApiExtensions
{
    /// <summary>JSON, problem details, request limits and the OpenAPI document shared by every API area.</summary>
    public static IHostApplicationBuilder AddApi(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<ApiOptions>().BindSettings(ApiOptions.Section).ValidateOnStart();
        builder.Services.AddOptions<KestrelServerOptions>().Configure<IOptions<ApiOptions>>((kestrel, api) =>
        {
            kestrel.Limits.MaxRequestBodySize = api.Value.MaxRequestBodyBytes;
            kestrel.AddServerHeader = false;
        });
        builder.Services.AddOptions<JsonOptions>().Configure<IOptions<ApiOptions>>((json, api) => ConfigureJson(json.SerializerOptions, api.Value.MaxJsonDepth));
        // Bad requests throw in every environment, so ApiExceptionHandler can always say exactly what was wrong.
        builder.Services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);

        // Registered before AddProblemDetails so it is asked first: problems are JSON even for an Accept: text/event-stream request.
        builder.Services.AddSingleton<IProblemDetailsWriter, ProblemJsonWriter>();
        builder.Services.AddProblemDetails(o => o.CustomizeProblemDetails = context =>
        {
            var problem = context.ProblemDetails;
            var status = problem.Status ?? context.HttpContext.Response.StatusCode;
            var generic = problem.Type is null || problem.Type.StartsWith("https://tools.ietf.org/", StringComparison.Ordinal);
            // A bare 400 from a generated request delegate: a parameter's value did not parse; say which (BindingFailures).
            if (status == 400 && generic && context.Exception is null && BindingFailures.Describe(context.HttpContext) is { } invalid)
            {
                (problem.Type, problem.Title, problem.Detail) = (invalid.Type, invalid.Title, invalid.Detail);
                problem.Extensions["errors"] = invalid.Errors;
            }
            else if (generic)
                problem.Type = problem is Microsoft.AspNetCore.Http.HttpValidationProblemDetails ? ProblemTypes.ValidationFailed : ProblemTypes.ForStatus(status);
            problem.Status ??= status;
            problem.Title ??= Microsoft.AspNetCore.WebUtilities.ReasonPhrases.GetReasonPhrase(status);
            problem.Detail ??= ProblemTypes.DefaultDetail(status);
            problem.Extensions["traceId"] = System.Diagnostics.Activity.Current?.TraceId.ToString() ?? context.HttpContext.TraceIdentifier;
        });
        builder.Services.AddExceptionHandler<ApiExceptionHandler>();
        builder.Services.AddOpenApi(o =>
        {
            OpenApiContract.Configure(o);
            o.AddDocumentTransformer((document, _, _) =>
        {
            document.Info.Title = "Agentry API";
            document.Info.Version = Operations.OperationsExtensions.Version;
            document.Info.Description = "Multi-agent AI service. Send an API key as `Authorization: Bearer agk_…` (see docs/security.md).";
            document.Components ??= new Microsoft.OpenApi.OpenApiComponents();
            document.Components.SecuritySchemes ??= new Dictionary<string, Microsoft.OpenApi.IOpenApiSecurityScheme>();
            document.Components.SecuritySchemes["apiKey"] = new Microsoft.OpenApi.OpenApiSecurityScheme
            {
                Type = Microsoft.OpenApi.SecuritySchemeType.Http, Scheme = "bearer", BearerFormat = "agk_…", Description = "An Agentry API key.",
            };
            document.Security = [new Microsoft.OpenApi.OpenApiSecurityRequirement { [new Microsoft.OpenApi.OpenApiSecuritySchemeReference("apiKey", document)] = [] }];
            return Task.CompletedTask;
        });
        });
        return builder;
    }

    public static void ConfigureJson(JsonSerializerOptions options, int maxDepth = 32)
    {
        options.PropertyNamingPolicy = JsonNamingPolicy.CamelCase;
        options.DictionaryKeyPolicy = null;
        // Write endpoints reject properties they do not know, so a typo ("agentID") is an error instead of silently ignored.
        options.UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow;
        options.PropertyNameCaseInsensitive = false;
        options.MaxDepth = maxDepth;
        // Numbers are numbers: "5" for an integer field is a client mistake, and the document says "integer", not "integer or string".
        options.NumberHandling = JsonNumberHandling.Strict;
        // null for a member declared non-nullable is a client mistake named at its path, not a null that validation
        // trips on (on the way in only: NoNullElements lets replies write null as before).
        options.RespectNullableAnnotations = true;
        options.TypeInfoResolver = System.Text.Json.Serialization.Metadata.JsonTypeInfoResolver.WithAddedModifier(
            options.TypeInfoResolver ?? new System.Text.Json.Serialization.Metadata.DefaultJsonTypeInfoResolver(), NoNullElements.Modify);
        options.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.CamelCase));
        options.Converters.Add(new UtcDateTimeOffsetConverter());
        options.Converters.Add(new NoNulStringConverter());
    }

    public static WebApplication UseApi(this WebApplication app)
    {
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        // The same rule as NoNulStringConverter for ids and filters in the path and query string.
        app.Use((context, next) => context.Request.Path.StartsWithSegments("/v1") && (context.Request.Path.Value?.Contains('\0') == true || context.Request.Query.Any(q => q.Key.Contains('\0') || q.Value.Any(v => v?.Contains('\0') == true)))
            ? Problems.WriteAsync(context, StatusCodes.Status400BadRequest, ProblemTypes.BadRequest, "Bad request", "The path or query string contains the NUL character (%00).")
            : next(context));
        return app;
    }

    /// <summary>The OpenAPI document at /openapi/v1.json and a browsable reference at /docs.</summary>
    public static WebApplication MapApiDocs(this WebApplication app)
    {
        // The API's description is public: it lists routes, not data, and clients need it before they have a key.
        app.MapOpenApi().ExcludeFromDescription().AllowAnonymous();
        // Self-contained: no fonts from a CDN, no telemetry, no developer toolbar; everything the page loads comes from here.
        app.MapScalarApiReference("/docs", o => o.WithTitle("Agentry API").WithOpenApiRoutePattern("/openapi/{documentName}.json")
                .DisableDefaultFonts().DisableTelemetry().HideDeveloperTools().DisableAgent().DisableMcp())
            .ExcludeFromDescription().AllowAnonymous();
        return app;
    }

    /// <summary>Adds the validation filter and the problem responses every write endpoint can give.</summary>
    public static RouteHandlerBuilder Validated(this RouteHandlerBuilder endpoint) =>
        endpoint.AddEndpointFilter<ValidationFilter>()
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType);
}
