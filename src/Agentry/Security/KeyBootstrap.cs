using Agentry.Audit;
using Agentry.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Agentry.Security;

/// <summary>
/// Makes sure the operator can get in on first start: when no key exists, the admin key comes from
/// AGENTRY_ADMIN_KEY (or the file AGENTRY_ADMIN_KEY_FILE names); failing that, one is generated, printed once to
/// the console and written to admin-key.txt in the data folder, readable only by the service's user.
/// </summary>
public static partial class KeyBootstrap
{
    public const string KeyFileName = "admin-key.txt";

    public static async Task EnsureAdminKeyAsync(this IServiceProvider services, CancellationToken cancellationToken = default)
    {
        var options = services.GetRequiredService<IOptions<SecurityOptions>>().Value;
        var logger = services.GetRequiredService<ILoggerFactory>().CreateLogger("Agentry.Security");
        if (!options.Enabled)
        {
            LogSecurityDisabled(logger);
            await using var disabledScope = services.CreateAsyncScope();
            await services.GetRequiredService<AuditLog>().RecordAsync(disabledScope.ServiceProvider.GetRequiredService<AgentryDbContext>(), AuditActor.System,
                AuditActions.SecurityDisabled, null, "warning", cancellationToken: cancellationToken);
            return;
        }

        await using var scope = services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<AgentryDbContext>();
        // Several instances starting together: one creates the key, the others find it.
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        await db.LockAsync(SharedLock.Bootstrap, cancellationToken);
        if (await db.ApiKeys.AnyAsync(cancellationToken)) return;

        var keys = scope.ServiceProvider.GetRequiredService<ApiKeyManager>();
        var fromEnvironment = string.IsNullOrWhiteSpace(options.AdminKey) ? null : options.AdminKey.Trim();
        var provided = fromEnvironment ?? ReadKeyFile(options.AdminKeyFile);
        if (provided is not null)
        {
            var key = await keys.ImportAsync("bootstrap-admin", provided, Scopes.Admin, AuditActor.System,
                new { source = fromEnvironment is null ? "file" : "environment", prefix = ApiKeySecrets.ImportedDisplayPrefix(provided) }, cancellationToken);
            await transaction.CommitAsync(cancellationToken);
            LogImported(logger, key.Prefix);
            return;
        }

        var dataOptions = services.GetRequiredService<IOptions<DataOptions>>().Value;
        var folder = dataOptions.FullDirectory(services.GetRequiredService<IHostEnvironment>().ContentRootPath);
        var file = Path.Combine(folder, KeyFileName);
        var created = await keys.CreateAsync(new CreateKeyRequest("bootstrap-admin", [Scopes.Admin], null, null, null, null, null), AuditActor.System,
            AuditActions.SecurityBootstrap, new { source = "generated", file }, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        Directory.CreateDirectory(folder);
        await Operations.OwnerOnlyFile.WriteAllTextAsync(file, created.Secret + Environment.NewLine, cancellationToken);

        // Printed only to a person at a terminal, never logged: log pipelines ship lines elsewhere. With output redirected
        // (a container, a service manager) the log says where the file is, and that is all.
        LogGenerated(logger, created.Key.Prefix, file);
        if (Console.IsOutputRedirected) return;
        Console.WriteLine();
        Console.WriteLine("  No API key existed, so an admin key was created. It is shown only this once:");
        Console.WriteLine();
        Console.WriteLine($"    {created.Secret}");
        Console.WriteLine();
        Console.WriteLine($"  It is also in {file} (readable only by this user). Use it as 'Authorization: Bearer <key>'.");
        Console.WriteLine();
    }

    static string? ReadKeyFile(string? path)
    {
        if (string.IsNullOrWhiteSpace(path)) return null;
        var text = File.ReadAllText(path).Trim();
        if (text.Length < 24) throw new Operations.StartupException($"Security:AdminKeyFile '{path}' must hold a key of at least 24 characters.");
        return text;
    }

    [LoggerMessage(EventId = 4000, Level = LogLevel.Warning,
        Message = "SECURITY IS DISABLED (ENABLE_SECURITY=false): every request is treated as admin. This is allowed only in Development.")]
    static partial void LogSecurityDisabled(ILogger logger);

    [LoggerMessage(EventId = 4001, Level = LogLevel.Information, Message = "Created the bootstrap admin key {Prefix}… from AGENTRY_ADMIN_KEY")]
    static partial void LogImported(ILogger logger, string prefix);

    [LoggerMessage(EventId = 4002, Level = LogLevel.Warning, Message = "Generated the bootstrap admin key {Prefix}…; its secret is in {File}")]
    static partial void LogGenerated(ILogger logger, string prefix, string file);
}
