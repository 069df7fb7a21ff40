using Agentry.Audit;
using Agentry.Data;

namespace Agentry.Operations;

/// <summary>
/// What a command of the command line runs against: the same host the service builds, with the same settings, built
/// the first time a command needs it (<c>agentry secrets new-key</c> and <c>--help</c> never do). Settings are the
/// <c>--Section:Key value</c> pairs (and <c>--urls</c>, <c>--environment</c>) anywhere on the command line; everything
/// else is the command and its own options, so a command's <c>--name</c> never becomes a setting.
/// </summary>
public sealed class CommandHost(Func<string[], WebApplication> build, string[] settings)
{
    WebApplication? _app;

    /// <summary>The host's settings validated, as at start-up: a bad one stops the command with the same one-line message.</summary>
    public WebApplication App
    {
        get
        {
            if (_app is not null) return _app;
            _app = build(settings);
            _app.Services.ValidateSettings();
            return _app;
        }
    }

    public IServiceProvider Services => App.Services;

    /// <summary>The services, with the database created or migrated as start-up would (in Production pending migrations wait for 'agentry migrate').</summary>
    public async Task<IServiceProvider> ReadyAsync(bool pendingMigrationsAllowed = false)
    {
        try
        {
            await Services.PrepareDatabaseAsync();
        }
        catch (PendingMigrationsException) when (pendingMigrationsAllowed)
        {
            // A backup before an upgrade is exactly what the runbook asks for first; a restore replaces the database anyway.
        }
        return Services;
    }

    /// <summary>The command line has no background writer: it chains the audit events it staged (and any a crash left) itself.</summary>
    public static Task ChainAuditAsync(IServiceProvider scope) =>
        AuditWriter.ChainStagedAsync(scope.GetRequiredService<AgentryDbContext>(), CancellationToken.None);

    /// <summary>
    /// Splits the command line into host settings and the command: <c>--Section:Key value</c>, <c>--Section:Key=value</c>
    /// (settings are PascalCase, a command's own options lowercase) and the host's <c>--urls</c>, <c>--environment</c>,
    /// <c>--contentRoot</c>, <c>--applicationName</c> are settings wherever they appear.
    /// </summary>
    public static (string[] Settings, string[] Command) Split(string[] args)
    {
        List<string> settings = [], command = [];
        for (var i = 0; i < args.Length; i++)
        {
            if (!IsSetting(args[i]))
            {
                command.Add(args[i]);
                continue;
            }
            settings.Add(args[i]);
            if (!args[i].Contains('=') && i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal)) settings.Add(args[++i]);
        }
        return ([.. settings], [.. command]);
    }

    static readonly string[] HostSettings = ["--urls", "--environment", "--contentRoot", "--applicationName"];

    static bool IsSetting(string token) =>
        token.StartsWith("--", StringComparison.Ordinal) && token.Length > 2 && token.Split('=', 2)[0] is var name
        && (name.Contains(':') || char.IsUpper(name[2]) || HostSettings.Contains(name, StringComparer.OrdinalIgnoreCase));
}
