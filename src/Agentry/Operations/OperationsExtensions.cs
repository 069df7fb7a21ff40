using System.Reflection;
using System.Text.Json;
using Agentry.Models;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace Agentry.Operations;

public static partial class OperationsExtensions
{
    public static string Version { get; } =
        typeof(OperationsExtensions).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0.0.0";

    public const string ProbeClient = "model-probe";

    public static IHostApplicationBuilder AddOperations(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<HealthOptions>().BindConfiguration(HealthOptions.Section).ValidateOnStart();
        builder.Services.AddHttpClient(ProbeClient, c => c.Timeout = TimeSpan.FromSeconds(5));
        builder.Services.AddSingleton<ModelProviderHealthCheck>(); // one instance, so its probe cache lives between checks
        builder.Services.AddHealthChecks()
            .Add(new HealthCheckRegistration("model-provider", sp => sp.GetRequiredService<ModelProviderHealthCheck>(), null, ["ready"]))
            .AddCheck<DiskSpaceHealthCheck>("disk-space", tags: ["ready"])
            .AddCheck<BackgroundWorkersHealthCheck>("background-workers", tags: ["ready"]);
        return builder;
    }

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
        return app;
    }

    static Task WriteHealth(HttpContext context, HealthReport report)
    {
        context.Response.ContentType = "application/json";
        var body = new
        {
            status = report.Status.ToString(),
            version = Version,
            checks = report.Entries.Select(e => new
            {
                name = e.Key,
                status = e.Value.Status.ToString(),
                description = e.Value.Description,
                durationMs = Math.Round(e.Value.Duration.TotalMilliseconds, 1),
            }),
        };
        return JsonSerializer.SerializeAsync(context.Response.Body, body, JsonSerializerOptions.Web, context.RequestAborted);
    }

    static Task WriteDetailedHealth(HttpContext context, HealthReport report)
    {
        context.Response.ContentType = "application/json";
        var body = new
        {
            status = report.Status.ToString(),
            version = Version,
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

    /// <summary>Says where the service listens and which model answers, once the server is up.</summary>
    public static WebApplication LogStartupBanner(this WebApplication app)
    {
        app.Lifetime.ApplicationStarted.Register(() =>
        {
            var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Agentry");
            var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses ?? [];
            var models = app.Services.GetRequiredService<IOptions<ModelOptions>>().Value;
            var defaultModel = models.EffectiveDefaultModel;
            var listening = string.Join(", ", addresses);
            LogListening(logger, Version, listening, app.Environment.EnvironmentName);
            if (defaultModel == ModelOptions.Offline)
            {
                LogOffline(logger);
                return;
            }
            var endpoint = models.Endpoints.TryGetValue(defaultModel.Split('/')[0], out var e) && !string.IsNullOrEmpty(e.BaseUrl) ? e.BaseUrl : "api.openai.com";
            LogProvider(logger, defaultModel, endpoint);
        });
        return app;
    }

    [LoggerMessage(EventId = 100, Level = LogLevel.Information, Message = "Agentry {Version} listening on {Addresses} ({Environment})")]
    static partial void LogListening(ILogger logger, string version, string addresses, string environment);

    [LoggerMessage(EventId = 101, Level = LogLevel.Warning,
        Message = "Model provider: offline. No OPENAI_API_KEY or model endpoint is configured, so answers come from the built-in offline model and are NOT from an LLM.")]
    static partial void LogOffline(ILogger logger);

    [LoggerMessage(EventId = 102, Level = LogLevel.Information, Message = "Model provider: default model {Model} at {Endpoint}")]
    static partial void LogProvider(ILogger logger, string model, string endpoint);
}
