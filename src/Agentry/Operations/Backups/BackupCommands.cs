using System.CommandLine;

namespace Agentry.Operations.Backups;

/// <summary><c>agentry backup [--encrypt]</c>, <c>agentry backups list</c>, <c>agentry restore ID</c>.</summary>
public static class BackupCommands
{
    static readonly Progress<string> Print = new(Console.WriteLine);

    public static Command Backup(CommandHost host)
    {
        var encrypt = new Option<bool>("--encrypt") { Description = "Refuse to take the backup unless it is encrypted (a backup key is configured)." };
        var backup = new Command("backup", "Take a backup now and verify it (into Backup:Folder); encrypted when a backup key is configured.") { encrypt };
        backup.SetAction(async (parse, ct) =>
        {
            BackupManifest manifest;
            try
            {
                // A backup of a database that still needs migrating is exactly what the upgrade runbook asks for first.
                var services = await host.ReadyAsync(pendingMigrationsAllowed: true);
                manifest = await services.GetRequiredService<Backups>().CreateAsync(Print, ct, parse.GetValue(encrypt));
            }
            catch (InvalidOperationException e)
            {
                Console.Error.WriteLine(e.Message);
                return 1;
            }
            Console.WriteLine($"{manifest.Id}: {manifest.SizeBytes} bytes, {manifest.RowCounts.Values.Sum()} rows, schema {manifest.SchemaVersion}" +
                (manifest.Encryption is null ? "" : $", encrypted with backup key {manifest.EncryptionKeyId}"));
            Console.WriteLine(manifest.Verification is { Ok: true } ? $"verified: {manifest.Verification.Detail}" : $"NOT VERIFIED: {manifest.Verification?.Detail}");
            return manifest.Verification is { Ok: true } ? 0 : 1;
        });
        return backup;
    }

    public static Command Backups(CommandHost host)
    {
        var list = new Command("list", "List backups with their verification.");
        list.SetAction(async _ =>
        {
            var backups = (await host.ReadyAsync(pendingMigrationsAllowed: true)).GetRequiredService<Backups>();
            Console.WriteLine($"{"ID",-26} {"CREATED (UTC)",-20} {"BYTES",12} {"ROWS",9}  {"VERIFIED",-15} ENCRYPTED");
            foreach (var m in backups.List())
                Console.WriteLine($"{m.Id,-26} {m.CreatedAt.UtcDateTime,-20:yyyy-MM-dd HH:mm:ss} {m.SizeBytes,12} {m.RowCounts.Values.Sum(),9}  " +
                    $"{(m.Verification is { Ok: true } v ? (v.RestoreTested ? "restore-tested" : "checksum") : "NO"),-15} {(m.Encryption is null ? "no" : $"key {m.EncryptionKeyId}")}");
            Console.WriteLine($"(folder: {backups.Folder})");
            return 0;
        });
        return new Command("backups", "The backups in Backup:Folder.") { list };
    }

    public static Command Restore(CommandHost host)
    {
        var id = new Argument<string>("BACKUP_ID") { Description = "A backup's id or file name, as 'agentry backups list' shows it (never a path)." };
        var restore = new Command("restore", "Restore a backup in place of the database (stop every instance first); the previous database is kept beside it.") { id };
        restore.SetAction(async (parse, ct) =>
        {
            try
            {
                var services = await host.ReadyAsync(pendingMigrationsAllowed: true); // a restore replaces the database anyway
                await services.GetRequiredService<Backups>().RestoreAsync(parse.GetValue(id)!, Print, ct);
                return 0;
            }
            catch (InvalidOperationException e)
            {
                Console.Error.WriteLine(e.Message);
                return 1;
            }
        });
        return restore;
    }
}
