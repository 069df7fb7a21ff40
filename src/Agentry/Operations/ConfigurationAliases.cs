namespace Agentry.Operations;

/// <summary>
/// Environment variable names operators already use, mapped onto Agentry's settings. They sit below the
/// standard <c>Section__Key</c> variables and the command line, so the explicit names still win.
/// </summary>
public static class ConfigurationAliases
{
    public static readonly IReadOnlyList<(string Variable, string Setting)> Map =
    [
        ("AGENTRY_DATA_DIR", "Data:Directory"),
        ("DATABASE_URL", "Data:ConnectionString"),
        ("REDIS_URL", "Redis:Configuration"),
        ("OPENAI_API_KEY", "Models:Endpoints:openai:ApiKey"),
        ("OPENAI_BASE_URL", "Models:Endpoints:openai:BaseUrl"),
        ("OPENAI_MODEL", "Models:Endpoints:openai:DefaultModel"),
        ("LOG_LEVEL", "Logging:LogLevel:Default"),
        ("API_RATE_LIMIT", "RateLimit:PermitsPerMinute"),
        ("ENABLE_SECURITY", "Security:Enabled"),
        ("AGENTRY_ADMIN_KEY", "Security:AdminKey"),
        ("AGENTRY_ADMIN_KEY_FILE", "Security:AdminKeyFile"),
        ("AGENTRY_SECRETS_KEY", "Security:SecretsKey"),
        ("AGENTRY_SECRETS_KEY_FILE", "Security:SecretsKeyFile"),
        ("AGENTRY_BACKUP_KEY", "Backup:EncryptionKey"),
        ("AGENTRY_BACKUP_KEY_FILE", "Backup:EncryptionKeyFile"),
    ];

    /// <summary>The environment name, honouring <c>ENVIRONMENT</c> when neither ASP.NET variable is set.</summary>
    public static string? EnvironmentName(Func<string, string?> getVariable) =>
        getVariable("ASPNETCORE_ENVIRONMENT") is { Length: > 0 } || getVariable("DOTNET_ENVIRONMENT") is { Length: > 0 }
            ? null
            : getVariable("ENVIRONMENT") is { Length: > 0 } environment ? Capitalise(environment) : null;

    public static IHostApplicationBuilder AddConfigurationAliases(this IHostApplicationBuilder builder, Func<string, string?>? getVariable = null)
    {
        getVariable ??= Environment.GetEnvironmentVariable;
        var values = new Dictionary<string, string?>();
        foreach (var (variable, setting) in Map)
        {
            if (getVariable(variable) is not { Length: > 0 } value) continue;
            values[setting] = variable == "LOG_LEVEL" ? NormaliseLogLevel(value) : value;
        }
        if (values.Count == 0) return builder;

        // Insert just before the first environment-variable source so Section__Key variables and --args override aliases.
        var sources = ((IConfigurationBuilder)builder.Configuration).Sources;
        var index = sources.ToList().FindIndex(s => s is Microsoft.Extensions.Configuration.EnvironmentVariables.EnvironmentVariablesConfigurationSource { Prefix: null or "" });
        var alias = new Microsoft.Extensions.Configuration.Memory.MemoryConfigurationSource { InitialData = values };
        if (index < 0) sources.Add(alias); else sources.Insert(index, alias);
        return builder;
    }

    static string NormaliseLogLevel(string value) => value.Trim().ToLowerInvariant() switch
    {
        "trace" or "verbose" => "Trace",
        "debug" => "Debug",
        "info" or "information" => "Information",
        "warn" or "warning" => "Warning",
        "error" => "Error",
        "critical" or "fatal" => "Critical",
        "none" or "off" => "None",
        _ => value, // not a level: start-up stops with the valid ones (Observability/LogLevelSettings.cs)
    };

    static string Capitalise(string name) => name.ToLowerInvariant() switch
    {
        "production" or "prod" => "Production",
        "development" or "dev" => "Development",
        "staging" => "Staging",
        _ => name,
    };
}
