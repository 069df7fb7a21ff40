using System.Reflection;
using Agentry.Models;
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
        builder.Services.AddOptions<HealthOptions>().BindSettings(HealthOptions.Section).ValidateOnStart();
        builder.Services.AddOptions<DrainOptions>().BindSettings(DrainOptions.Section).ValidateOnStart();
        builder.Services.AddSingleton<ServiceDrain>();
        builder.Services.AddOptions<Backups.BackupOptions>().BindSettings(Backups.BackupOptions.Section).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<Backups.BackupOptions>, Backups.BackupOptionsValidator>();
        builder.Services.AddSingleton<Backups.IDatabaseBackup, Backups.SqliteBackup>();
        builder.Services.AddSingleton<Backups.IDatabaseBackup, Backups.PostgresBackup>();
        builder.Services.AddSingleton<Backups.Backups>();
        builder.Services.AddHostedService<Backups.BackupScheduler>();
        builder.Services.AddScoped<Transfers.AgentTransfer>();
        builder.Services.AddScoped<Transfers.UserDataTransfer>();
        builder.Services.AddHostedService(services => services.GetRequiredService<ServiceDrain>());
        builder.Services.AddHttpClient(ProbeClient, c => c.Timeout = TimeSpan.FromSeconds(5));
        builder.Services.AddSingleton<ModelProviderHealthCheck>(); // one instance, so its probe cache lives between checks
        builder.Services.AddSingleton<StartupWarmup>();
        builder.Services.AddHostedService(services => services.GetRequiredService<StartupWarmup>());
        // Every health check is registered here, so /health lists them in one order; each lives next to what it checks.
        var checks = builder.Services.AddHealthChecks()
            .Add(new HealthCheckRegistration("model-provider", sp => sp.GetRequiredService<ModelProviderHealthCheck>(), null, ["ready"]))
            .AddCheck<Data.DatabaseHealthCheck>("database", tags: ["ready"])
            .AddCheck<Data.DiskSpaceHealthCheck>("disk-space", tags: ["ready"]);
        // Listed only where Redis is configured: a "redis: Healthy" on an instance without one would say something untrue.
        if (builder.Configuration.GetSection(Data.RedisOptions.Section).Get<Data.RedisOptions>() is { IsConfigured: true })
            checks.AddCheck<Data.RedisHealthCheck>("redis", tags: ["ready"]);
        checks.AddCheck<Audit.BackgroundWorkersHealthCheck>("background-workers", tags: ["ready"])
            .AddCheck<Mcp.McpServersHealthCheck>("mcp-servers", tags: ["ready"])
            .AddCheck<DrainHealthCheck>("shutdown", tags: ["ready"])
            .Add(new HealthCheckRegistration("warm-up", sp => sp.GetRequiredService<StartupWarmup>(), null, ["ready"]));
        return builder;
    }

    /// <summary>
    /// Listens on http://localhost:5080 unless the platform says otherwise (ASPNETCORE_URLS, --urls, ASPNETCORE_HTTP_PORTS or
    /// Kestrel endpoints). A default in appsettings.json would override the platform's variables, so it lives here.
    /// </summary>
    public static WebApplicationBuilder UseDefaultAddress(this WebApplicationBuilder builder)
    {
        var configuration = builder.Configuration;
        if (string.IsNullOrEmpty(configuration["urls"]) && string.IsNullOrEmpty(configuration["http_ports"]) &&
            string.IsNullOrEmpty(configuration["https_ports"]) && !configuration.GetSection("Kestrel:Endpoints").Exists())
            builder.WebHost.UseUrls(DefaultAddress);
        return builder;
    }

    public const string DefaultAddress = "http://localhost:5080";

    /// <summary>
    /// Runs the options validation the host would run when it starts, earlier: a failure then reaches Program as an
    /// exception it can turn into one line, instead of the host logging it with a stack trace first.
    /// </summary>
    public static void ValidateSettings(this IServiceProvider services) =>
        services.GetService<Microsoft.Extensions.Options.IStartupValidator>()?.Validate();

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
