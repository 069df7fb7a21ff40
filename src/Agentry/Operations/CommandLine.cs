using System.Globalization;
using Agentry.Agents;
using Agentry.Audit;
using Agentry.Data;
using Agentry.Security;
using Microsoft.EntityFrameworkCore;

namespace Agentry.Operations;

/// <summary>One executable: the first argument, when it is not an option, picks the verb; <c>--Section:Key value</c> options configure the host.</summary>
public static class CommandLine
{
    public static (string? Verb, string[] Arguments) Split(string[] args) =>
        args.Length > 0 && !args[0].StartsWith('-') ? (args[0].ToLowerInvariant(), args[1..]) :
        args.Length > 0 && args[0] is "--help" or "-h" or "--version" ? (args[0], args[1..]) :
        (null, args);

    /// <summary>Options of a verb that take no value (<c>migrate --script</c>): not settings.</summary>
    static readonly HashSet<string> Switches = new(StringComparer.Ordinal) { "--script", "--encrypt" };

    /// <summary>The <c>--name value</c> and <c>--name=value</c> pairs, without positional words such as <c>create</c> or a key id.</summary>
    public static string[] SettingsOnly(string[] args)
    {
        var kept = new List<string>();
        for (var i = 0; i < args.Length; i++)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal) || Switches.Contains(args[i])) continue;
            kept.Add(args[i]);
            if (!args[i].Contains('=') && i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal)) kept.Add(args[++i]);
        }
        return [.. kept];
    }

    public static void PrintHelp() => Console.WriteLine("""
        Usage: agentry [verb] [--setting value ...]

        Verbs:
          serve                       Start the service (default).
          migrate                     Apply database migrations and exit.
          migrate --script            Print the SQL that would migrate this database, changing nothing.
          keys create --name N --scopes admin,agents:write,chat,read,metrics
                      [--expires-in-days D] [--requests-per-minute N] [--concurrent-requests N]
                      [--tokens-per-minute N] [--tokens-per-day N]
                                      Create an API key; its secret is printed once.
          keys list                   List keys (never their secrets).
          keys revoke KEY_ID          Revoke a key; it stops working at once.
          keys rotate KEY_ID          Give a key a new secret; the old one stops working at once.
          audit verify                Check the audit log's hash chain; exit code 1 if it was tampered with.
          backup [--encrypt]          Take a backup now and verify it (into Backup:Folder); encrypted with the backup
                                      key when one is configured (--encrypt: refuse to take one without it).
          backups list                List backups with their verification.
          restore BACKUP_ID           Restore a backup in place of the database (stop every instance first);
                                      the previous database is kept beside it.
          export agents [--to DIR]    Write every agent as DIR/{id}.yaml (default ./agents-export), the agents folder's format.
          import agents PATH          Create or update agents from a YAML file or folder; each file is checked
                                      against this installation's models and tools, and refused with the reason.
          export user USER_ID [--to FILE]
                                      Write everything stored about one user (conversations, messages, approvals)
                                      as JSON (default ./user-USER_ID.json).
          import user FILE            Add a user's exported conversations; those already here are left as they are.
          version                     Print the version.

        Any setting can follow the verb, e.g. --urls http://0.0.0.0:8080 or --Data:Directory /var/lib/agentry.
        See docs/configuration.md and docs/security.md.
        """);

    public static async Task<int> RunAsync(string verb, string[] args, IServiceProvider services)
    {
        var positional = Positional(args);
        if (verb == "migrate" && args.Contains("--script"))
        {
            Console.WriteLine(await services.MigrationScriptAsync());
            return 0;
        }
        if (verb == "migrate") await services.MigrateDatabaseAsync();
        else if (verb is "backup" or "backups" or "restore")
        {
            // A backup of a database that still needs migrating is exactly what the upgrade runbook asks for first, and
            // a restore replaces the database anyway: neither waits for 'agentry migrate'.
            try { await services.PrepareDatabaseAsync(); }
            catch (PendingMigrationsException) { }
        }
        else await services.PrepareDatabaseAsync();
        switch (verb, positional.FirstOrDefault())
        {
            case ("migrate", _):
                Console.WriteLine("Database migrated.");
                return 0;
            case ("keys", "create"):
                return await CreateKeyAsync(args, services);
            case ("keys", "list"):
                return await ListKeysAsync(services);
            case ("keys", "revoke") when positional.Count == 2:
                return await RevokeOrRotateAsync(services, positional[1], rotate: false);
            case ("keys", "rotate") when positional.Count == 2:
                return await RevokeOrRotateAsync(services, positional[1], rotate: true);
            case ("audit", "verify"):
                return await VerifyAuditAsync(services);
            case ("backup", _):
                return await BackUpAsync(services, args.Contains("--encrypt"));
            case ("backups", "list"):
                return ListBackups(services);
            case ("restore", _) when positional.Count == 1:
                return await RestoreAsync(services, positional[0]);
            case ("export", "agents") when positional.Count == 1:
                services.LoadAgentFiles();
                return await ExportAgentsAsync(services, Options(args).GetValueOrDefault("to") ?? "agents-export");
            case ("import", "agents") when positional.Count == 2:
                services.LoadAgentFiles(); // so an agent defined in a file here is not shadowed by an import
                return await ImportAgentsAsync(services, positional[1]);
            case ("export", "user") when positional.Count == 2:
                return await ExportUserAsync(services, positional[1], Options(args).GetValueOrDefault("to") ?? $"user-{positional[1]}.json");
            case ("import", "user") when positional.Count == 2:
                return await ImportUserAsync(services, positional[1]);
            default:
                PrintHelp();
                return 2;
        }
    }

    static async Task<int> CreateKeyAsync(string[] args, IServiceProvider services)
    {
        var options = Options(args);
        var expiresInDays = Int(options, "expires-in-days");
        var request = new CreateKeyRequest(
            options.GetValueOrDefault("name") ?? "", (options.GetValueOrDefault("scopes") ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
            expiresInDays is { } days ? DateTimeOffset.UtcNow.AddDays(days) : null,
            Int(options, "requests-per-minute"), Int(options, "concurrent-requests"), Int(options, "tokens-per-minute"), Int(options, "tokens-per-day"));
        var errors = new Api.ValidationErrors();
        request.Validate(errors);
        if (!errors.IsEmpty)
        {
            foreach (var (field, messages) in errors.ToDictionary()) Console.Error.WriteLine($"--{Kebab(field)}: {string.Join(" ", messages)}");
            return 2;
        }

        await using var scope = services.CreateAsyncScope();
        var created = await scope.ServiceProvider.GetRequiredService<ApiKeyManager>().CreateAsync(request, AuditActor.Cli, CancellationToken.None);
        await ChainAuditAsync(scope.ServiceProvider);
        Console.WriteLine($"Created key {created.Key.Id} ({created.Key.Name}, scopes: {string.Join(",", created.Key.Scopes)}). Its secret, shown only now:");
        Console.WriteLine(created.Secret);
        return 0;
    }

    static async Task<int> ListKeysAsync(IServiceProvider services)
    {
        await using var scope = services.CreateAsyncScope();
        var keys = await scope.ServiceProvider.GetRequiredService<ApiKeyManager>().ListAsync(CancellationToken.None);
        Console.WriteLine($"{"ID",-38} {"NAME",-20} {"PREFIX",-13} {"STATUS",-8} {"SCOPES",-30} LAST USED");
        foreach (var k in keys)
            Console.WriteLine($"{k.Id,-38} {k.Name,-20} {k.Prefix,-13} {k.Status,-8} {string.Join(",", k.Scopes),-30} {k.LastUsedAt?.ToString("u", CultureInfo.InvariantCulture) ?? "never"}");
        return 0;
    }

    static async Task<int> RevokeOrRotateAsync(IServiceProvider services, string keyId, bool rotate)
    {
        await using var scope = services.CreateAsyncScope();
        var keys = scope.ServiceProvider.GetRequiredService<ApiKeyManager>();
        if (rotate)
        {
            if (await keys.RotateAsync(keyId, AuditActor.Cli, CancellationToken.None) is not { } rotated) return NotFound(keyId);
            await ChainAuditAsync(scope.ServiceProvider);
            Console.WriteLine($"Rotated {keyId}; the old secret no longer works. New secret, shown only now:");
            Console.WriteLine(rotated.Secret);
            return 0;
        }
        if (await keys.RevokeAsync(keyId, AuditActor.Cli, CancellationToken.None) is not { } revoked) return NotFound(keyId);
        await ChainAuditAsync(scope.ServiceProvider);
        Console.WriteLine($"Revoked {keyId} ({revoked.Name}).");
        return 0;
    }

    static async Task<int> VerifyAuditAsync(IServiceProvider services)
    {
        await using var scope = services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<AgentryDbContext>();
        // Events staged with their changes but not chained yet (the service stopped before its writer ran) are chained first.
        var staged = await db.AuditOutbox.CountAsync();
        if (staged > 0)
        {
            await AuditWriter.ChainStagedAsync(db, CancellationToken.None);
            Console.WriteLine($"Chained {staged} staged audit event(s) first.");
        }
        var result = await AuditChain.VerifyAsync(db, CancellationToken.None);
        Console.WriteLine(result.Valid
            ? $"Audit log intact: {result.Checked} event(s) verified."
            : $"AUDIT LOG TAMPERED: {result.Problem} ({result.Checked} event(s) checked).");
        return result.Valid ? 0 : 1;
    }

    static int NotFound(string keyId)
    {
        Console.Error.WriteLine($"No active key with id '{keyId}'. See 'agentry keys list'.");
        return 1;
    }

    /// <summary>The command line has no background writer: it chains the events it staged (and any a crash left) itself.</summary>
    static Task ChainAuditAsync(IServiceProvider services) =>
        AuditWriter.ChainStagedAsync(services.GetRequiredService<AgentryDbContext>(), CancellationToken.None);

    static readonly Progress<string> Print = new(Console.WriteLine);

    static async Task<int> BackUpAsync(IServiceProvider services, bool encrypt)
    {
        Backups.BackupManifest manifest;
        try
        {
            manifest = await services.GetRequiredService<Backups.Backups>().CreateAsync(Print, CancellationToken.None, encrypt);
        }
        catch (InvalidOperationException e)
        {
            Console.Error.WriteLine(e.Message);
            return 1;
        }
        Console.WriteLine($"{manifest.Id}: {manifest.SizeBytes} bytes, {manifest.RowCounts.Values.Sum()} rows, schema {manifest.SchemaVersion}");
        Console.WriteLine(manifest.Verification is { Ok: true } ? $"verified: {manifest.Verification.Detail}" : $"NOT VERIFIED: {manifest.Verification?.Detail}");
        return manifest.Verification is { Ok: true } ? 0 : 1;
    }

    static int ListBackups(IServiceProvider services)
    {
        var backups = services.GetRequiredService<Backups.Backups>();
        Console.WriteLine($"{"ID",-26} {"CREATED (UTC)",-20} {"BYTES",12} {"ROWS",9}  VERIFIED");
        foreach (var m in backups.List())
            Console.WriteLine($"{m.Id,-26} {m.CreatedAt.UtcDateTime,-20:yyyy-MM-dd HH:mm:ss} {m.SizeBytes,12} {m.RowCounts.Values.Sum(),9}  " +
                (m.Verification is { Ok: true } v ? (v.RestoreTested ? "restore-tested" : "checksum") : "NO"));
        Console.WriteLine($"(folder: {backups.Folder})");
        return 0;
    }

    static async Task<int> RestoreAsync(IServiceProvider services, string backup)
    {
        try
        {
            await services.GetRequiredService<Backups.Backups>().RestoreAsync(backup, Print, CancellationToken.None);
            return 0;
        }
        catch (InvalidOperationException e)
        {
            Console.Error.WriteLine(e.Message);
            return 1;
        }
    }

    static async Task<int> ExportAgentsAsync(IServiceProvider services, string folder)
    {
        await using var scope = services.CreateAsyncScope();
        var written = await scope.ServiceProvider.GetRequiredService<Transfers.AgentTransfer>().ExportAsync(Path.GetFullPath(folder), AuditActor.Cli, CancellationToken.None);
        foreach (var path in written) Console.WriteLine(path);
        Console.WriteLine($"Exported {written.Count} file(s).");
        return 0;
    }

    static async Task<int> ImportAgentsAsync(IServiceProvider services, string path)
    {
        await using var scope = services.CreateAsyncScope();
        var outcomes = await scope.ServiceProvider.GetRequiredService<Transfers.AgentTransfer>().ImportAsync(path, AuditActor.Cli, CancellationToken.None);
        await ChainAuditAsync(scope.ServiceProvider);
        foreach (var o in outcomes)
            (o.Failed ? Console.Error : Console.Out).WriteLine($"{o.File}: {o.Outcome}{(o.AgentId is null ? "" : $" '{o.AgentId}'")}{(o.Detail is null ? "" : $": {o.Detail}")}");
        if (outcomes.Count == 0) Console.Error.WriteLine($"No agent file (*.yaml, *.yml) in {path}.");
        Console.WriteLine($"{outcomes.Count(o => !o.Failed)} imported or unchanged, {outcomes.Count(o => o.Failed)} refused.");
        return outcomes.Count > 0 && outcomes.All(o => !o.Failed) ? 0 : 1;
    }

    static async Task<int> ExportUserAsync(IServiceProvider services, string userId, string file)
    {
        await using var scope = services.CreateAsyncScope();
        var export = await scope.ServiceProvider.GetRequiredService<Transfers.UserDataTransfer>().ExportAsync(userId, AuditActor.Cli, CancellationToken.None);
        if (export is null)
        {
            Console.Error.WriteLine($"Nothing is stored for user '{userId}'.");
            return 1;
        }
        await using (var stream = OwnerOnlyFile.Create(file)) // personal data: readable by the operator's user only
            await System.Text.Json.JsonSerializer.SerializeAsync(stream, export, Transfers.UserDataExport.Json);
        Console.WriteLine($"Exported {export.ConversationCount} conversation(s) and {export.MessageCount} message(s) of '{userId}' to {Path.GetFullPath(file)}.");
        return 0;
    }

    static async Task<int> ImportUserAsync(IServiceProvider services, string file)
    {
        Transfers.UserDataExport? export;
        try
        {
            await using var stream = File.OpenRead(file);
            export = await System.Text.Json.JsonSerializer.DeserializeAsync<Transfers.UserDataExport>(stream, Transfers.UserDataExport.Json);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Text.Json.JsonException)
        {
            Console.Error.WriteLine($"Cannot read {file}: {e.Message}");
            return 1;
        }
        if (export is null) { Console.Error.WriteLine($"{file} is empty."); return 1; }
        await using var scope = services.CreateAsyncScope();
        try
        {
            var result = await scope.ServiceProvider.GetRequiredService<Transfers.UserDataTransfer>().ImportAsync(export, AuditActor.Cli, CancellationToken.None);
            await ChainAuditAsync(scope.ServiceProvider);
            Console.WriteLine($"Imported {result.Imported} conversation(s) with {result.Messages} message(s) for '{result.UserId}'" +
                (result.AlreadyPresent.Count > 0 ? $"; {result.AlreadyPresent.Count} were already here and left as they are." : "."));
            return 0;
        }
        catch (InvalidDataException e)
        {
            Console.Error.WriteLine($"{file}: {e.Message}");
            return 1;
        }
    }

    static List<string> Positional(string[] args)
    {
        var words = new List<string>();
        for (var i = 0; i < args.Length; i++)
        {
            if (args[i].StartsWith("--", StringComparison.Ordinal)) { if (!args[i].Contains('=') && i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal)) i++; }
            else words.Add(args[i]);
        }
        return words;
    }

    static Dictionary<string, string> Options(string[] args)
    {
        var options = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < args.Length; i++)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal)) continue;
            var name = args[i][2..];
            if (name.Split('=', 2) is [var n, var v]) options[n] = v;
            else if (i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal)) options[name] = args[++i];
        }
        return options;
    }

    static int? Int(Dictionary<string, string> options, string name) =>
        options.TryGetValue(name, out var text) ? int.Parse(text, CultureInfo.InvariantCulture) : null;

    static string Kebab(string field) => string.Concat(field.Select(c => char.IsUpper(c) ? $"-{char.ToLowerInvariant(c)}" : c.ToString()));
}
