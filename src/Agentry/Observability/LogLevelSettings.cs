using Agentry.Operations;

namespace Agentry.Observability;

/// <summary>
/// Log levels are checked when the service starts: .NET ignores a level it cannot read and logs at its default
/// instead, so <c>LOG_LEVEL=loud</c> would start quietly with a level the operator did not ask for.
/// </summary>
public static class LogLevelSettings
{
    public static void Check(IConfiguration configuration)
    {
        foreach (var setting in configuration.GetSection("Logging").AsEnumerable().Where(s => s.Value is not null && IsLevel(s.Key)))
            if (!Enum.TryParse<LogLevel>(setting.Value, ignoreCase: true, out _))
                throw new StartupException($"{setting.Key} is '{setting.Value}', which is not a log level; use trace, debug, info, warn, error, critical " +
                    "or none (LOG_LEVEL also takes verbose, information, warning, fatal and off).");
    }

    /// <summary>Logging:LogLevel:CATEGORY, and a provider's own Logging:PROVIDER:LogLevel:CATEGORY.</summary>
    static bool IsLevel(string key) => key.Split(':') is var parts && parts.Length >= 3 && parts[^2].Equals("LogLevel", StringComparison.OrdinalIgnoreCase);
}
