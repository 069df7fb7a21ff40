using System.Net;
using Agentry.Audit;
using Agentry.Operations;
using Agentry.Security;
using Microsoft.AspNetCore.Authorization;
using Microsoft.Extensions.Options;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Agentry.Observability;

public sealed class ObservabilityOptions
{
    public const string Section = "Observability";

    /// <summary>Networks (CIDR) that may scrape /metrics without a key; admin keys may always. Unset: this machine only; <c>none</c>: keys only.</summary>
    public string[]? MetricsAllowedNetworks { get; set; }

    public IEnumerable<IPNetwork> EffectiveMetricsNetworks =>
        (MetricsAllowedNetworks ?? ["127.0.0.0/8", "::1/128"]).Where(n => n != "none").Select(IPNetwork.Parse);

    /// <summary>OTLP endpoint for traces and metrics (e.g. http://otel-collector:4317); empty turns OTLP export off.</summary>
    public string? OtlpEndpoint { get; set; }

    /// <summary>
    /// Share of traces recorded (0 to 1) when the caller did not decide. Unset: all of them when an OTLP endpoint is set
    /// (something receives them), none otherwise — trace ids are still made, logged and returned; only the spans'
    /// recording (tags, events, database statements) is skipped, which was 3 % of CPU at saturation. A request whose
    /// W3C <c>traceparent</c> says sampled is recorded whatever this says; one that says not sampled is not.
    /// </summary>
    public double? TraceSampleRatio { get; set; }

    public double EffectiveTraceSampleRatio => TraceSampleRatio ?? (OtlpEndpoint is { Length: > 0 } ? 1 : 0);

    /// <summary>Record prompt and completion text on model spans. Off by default: traces often leave the trust boundary.</summary>
    public bool RecordContent { get; set; }

    /// <summary>
    /// Structured JSON logs. Unset: on outside Development whenever output goes to a pipe or file (containers, systemd,
    /// log shippers), and human-readable when a person runs the service in a terminal.
    /// </summary>
    public bool? JsonLogs { get; set; }
}

public static class ObservabilityExtensions
{
    public const string MetricsPolicy = "metrics";
    public const string WebhookClient = "alert-webhook";

    static volatile bool _hostStarted;

    /// <summary>Whether the host has started (its failures to start are reported by Agentry itself, in one line).</summary>
    public static bool HostStarted => _hostStarted;

    /// <summary>Marks the moment the host has started.</summary>
    sealed class HostStartedSignal(IHostApplicationLifetime lifetime) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken)
        {
            lifetime.ApplicationStarted.Register(() => _hostStarted = true);
            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }

    public static IHostApplicationBuilder AddObservability(this IHostApplicationBuilder builder)
    {
        LogLevelSettings.Check(builder.Configuration);
        builder.Services.AddOptions<ObservabilityOptions>().BindSettings(ObservabilityOptions.Section).ValidateOnStart()
            .Validate(o => (o.MetricsAllowedNetworks ?? []).All(n => n == "none" || IPNetwork.TryParse(n, out _)),
                "Observability:MetricsAllowedNetworks must be CIDR networks such as 10.0.0.0/8, or 'none'.")
            .Validate(o => o.TraceSampleRatio is null or (>= 0 and <= 1), "Observability:TraceSampleRatio must be between 0 and 1.");
        var options = builder.Configuration.GetSection(ObservabilityOptions.Section).Get<ObservabilityOptions>() ?? new ObservabilityOptions();

        if (options.JsonLogs ?? (!builder.Environment.IsDevelopment() && Console.IsOutputRedirected))
        {
            builder.Logging.ClearProviders();
            builder.Logging.AddJsonConsole(o =>
            {
                o.IncludeScopes = true;
                o.UseUtcTimestamp = true;
                o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ";
            });
        }
        builder.Logging.Configure(o => o.ActivityTrackingOptions = ActivityTrackingOptions.TraceId | ActivityTrackingOptions.SpanId);
        // A start that fails for an operator's reason (an address in use) is reported in one line on stderr
        // (Operations/StartupFailure.cs); the host's own account of it, with stack traces and the services it stopped, is
        // noise then. Once the host has started its errors are logged as always; an unexpected start-up failure still
        // ends the process with its stack trace.
        builder.Logging.AddFilter("Microsoft.Extensions.Hosting.Internal.Host", level => HostStarted || level < LogLevel.Error);
        builder.Services.AddHostedService<HostStartedSignal>();

        builder.Services.AddSingleton<AgentryTelemetry>();
        builder.Services.AddSingleton<ErrorTracker>();
        builder.Services.AddOptions<AnalyticsOptions>().BindSettings(AnalyticsOptions.Section).ValidateOnStart();
        builder.Services.AddSingleton<ModelPrices>();
        builder.Services.AddSingleton<Analytics>();
        // One report per turn: telemetry first, then these consumers of the same outcome.
        builder.Services.AddSingleton<TurnReporter>();
        builder.Services.AddSingleton<ITurnOutcomeListener>(services => services.GetRequiredService<Analytics>());
        builder.Services.AddSingleton<ITurnOutcomeListener>(services => services.GetRequiredService<SystemMonitor>());
        builder.Services.AddSingleton<ITurnOutcomeListener>(services => services.GetRequiredService<ErrorTracker>());
        builder.Services.AddHostedService<AnalyticsFlusher>();
        builder.Services.AddOptions<MonitoringOptions>().BindSettings(MonitoringOptions.Section).ValidateOnStart()
            .Validate(o => o.EffectiveAlerts.All(a => ResourceSample.Metrics.Contains(a.Metric) && (a.Above is not null || a.Below is not null) && a.RaiseAfter >= 1 && a.ClearAfter >= 1),
                $"Monitoring:Alerts: each needs a Metric ({string.Join(", ", ResourceSample.Metrics)}), Above or Below, and RaiseAfter/ClearAfter of at least 1.")
            .Validate(o => o.SampleInterval > TimeSpan.Zero, "Monitoring:SampleInterval must be positive.");
        builder.Services.AddSingleton<SharedAlerts>();
        builder.Services.AddSingleton<SystemMonitor>();
        builder.Services.AddHostedService(services => services.GetRequiredService<SystemMonitor>());
        builder.Services.AddHttpClient(WebhookClient).AddStandardResilienceHandler(o =>
        {
            o.Retry.MaxRetryAttempts = 3; // a receiver that blips still gets the alert
            o.AttemptTimeout.Timeout = TimeSpan.FromSeconds(5);
            o.TotalRequestTimeout.Timeout = TimeSpan.FromSeconds(30);
        });
        builder.Services.AddHostedService<ErrorTrackerFlusher>();
        var otel = builder.Services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService("agentry", serviceVersion: Operations.OperationsExtensions.Version))
            .WithMetrics(metrics =>
            {
                metrics.AddMeter(AgentryTelemetry.Name, "Agentry.Models", "System.Runtime", "Microsoft.AspNetCore.Hosting", "Microsoft.AspNetCore.Server.Kestrel",
                        "System.Net.Http")
                    .AddAspNetCoreInstrumentation()
                    .AddRuntimeInstrumentation()
                    .AddPrometheusExporter();
                if (options.OtlpEndpoint is { Length: > 0 } endpoint) metrics.AddOtlpExporter(o => o.Endpoint = new Uri(endpoint));
            })
            .WithTracing(tracing =>
            {
                // Spans nobody receives are not recorded (the caller's sampled flag still decides for its own traces).
                var ratio = options.EffectiveTraceSampleRatio;
                tracing.SetSampler(new ParentBasedSampler(ratio >= 1 ? new AlwaysOnSampler() : ratio <= 0 ? new AlwaysOffSampler() : new TraceIdRatioBasedSampler(ratio)))
                    .AddSource(AgentryTelemetry.Name, "Agentry.Models")
                    .AddAspNetCoreInstrumentation(o => o.Filter = http => !http.Request.Path.StartsWithSegments("/health") && !http.Request.Path.StartsWithSegments("/metrics"))
                    .AddHttpClientInstrumentation()
                    .AddEntityFrameworkCoreInstrumentation();
                if (options.OtlpEndpoint is { Length: > 0 } endpoint) tracing.AddOtlpExporter(o => o.Endpoint = new Uri(endpoint));
            });

        builder.Services.AddAuthorizationBuilder().AddPolicy(MetricsPolicy, policy => policy.RequireAssertion(context =>
        {
            if (context.User.HasClaim(Caller.ClaimScope, Scopes.Admin) || context.User.HasClaim(Caller.ClaimScope, Scopes.Metrics)) return true;
            var http = context.Resource as HttpContext;
            var address = http?.Connection.RemoteIpAddress;
            if (http is null || address is null) return false;
            if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4();
            return http.RequestServices.GetRequiredService<IOptions<ObservabilityOptions>>().Value.EffectiveMetricsNetworks.Any(n => n.Contains(address));
        }));
        return builder;
    }

    /// <summary>Adds the key id to every log line's scope (trace and span ids come from activity tracking).</summary>
    public static WebApplication UseRequestLogScope(this WebApplication app)
    {
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Agentry.Requests");
        app.Use(async (context, next) =>
        {
            using (logger.BeginScope(new Dictionary<string, object?> { ["RequestId"] = context.TraceIdentifier, ["KeyId"] = context.GetCaller()?.KeyId }))
                await next(context);
        });
        return app;
    }

    static readonly HashSet<string> KnownMethods = new(StringComparer.Ordinal) { "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS" };

    /// <summary>Counts every request by key and route once the response is done.</summary>
    public static WebApplication UseRequestAnalytics(this WebApplication app)
    {
        var analytics = app.Services.GetRequiredService<Analytics>();
        app.Use(async (context, next) =>
        {
            var started = System.Diagnostics.Stopwatch.GetTimestamp();
            try
            {
                await next(context);
            }
            finally
            {
                var path = context.Request.Path;
                if (!path.StartsWithSegments("/health") && !path.StartsWithSegments("/metrics"))
                {
                    // Keyed by known methods and matched routes only: made-up methods or paths must not add rows.
                    var route = (context.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText ?? "unmatched";
                    var method = KnownMethods.Contains(context.Request.Method) ? context.Request.Method : "OTHER";
                    analytics.RecordRequest(context.GetCaller()?.KeyId, $"{method} {route}", context.Response.StatusCode,
                        System.Diagnostics.Stopwatch.GetElapsedTime(started));
                }
            }
        });
        return app;
    }
}
