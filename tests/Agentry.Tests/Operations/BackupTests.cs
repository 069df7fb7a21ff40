using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Agentry.Data;
using Agentry.Operations.Backups;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace Agentry.Tests.Operations;

/// <summary>Backups as an operator relies on them: taken while the service is busy, verified, and restored identical.</summary>
public sealed class BackupTests(ITestOutputHelper output) : IDisposable
{
    readonly string _folder = Directory.CreateTempSubdirectory("agentry-backup-").FullName;

    [Fact]
    public async Task A_backup_taken_under_load_is_verified_and_restores_to_an_identical_database()
    {
        string backupId, before, after;
        JsonObject manifest;
        IReadOnlyList<(string Table, string[] Key)> tables;
        // The eight writers share the admin key: its default token budget must not be what stops them.
        await using (var app = new AgentryApp(settings: new() { ["Data:Directory"] = _folder, ["RateLimit:TokensPerMinute"] = "", ["RateLimit:TokensPerDay"] = "" }))
        {
            before = (string)(await app.CreateConversationAsync())["id"]!;
            await app.SendAsync(before, "written before the backup");

            // Eight clients keep writing turns while the backup is taken.
            using var stop = new CancellationTokenSource();
            var writers = Enumerable.Range(0, 8).Select(w => Task.Run(async () =>
            {
                var turns = 0;
                while (!stop.IsCancellationRequested)
                {
                    var response = await app.Client.PostAsJsonAsync("/v1/chat", new { message = $"writer {w} turn {turns++}", agentId = "support" }, CancellationToken.None);
                    Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                }
                return turns;
            })).ToList();
            await Wait.UntilAsync(async () => (await Http.JsonAsync(await app.Client.GetAsync("/v1/conversations?limit=200")))["data"]!.AsArray().Count > 40,
                TimeSpan.FromSeconds(30), "traffic is flowing");

            var created = await app.Client.PostAsync("/v1/admin/backups", null);
            await Http.ExpectAsync(created, HttpStatusCode.Created);
            manifest = await Http.JsonAsync(created);
            stop.Cancel();
            output.WriteLine($"turns written during the test: {(await Task.WhenAll(writers)).Sum()}; backup: {manifest.ToJsonString()[..Math.Min(400, manifest.ToJsonString().Length)]}");
            backupId = (string)manifest["id"]!;
            Assert.True((bool)manifest["verification"]!["ok"]!, manifest["verification"]!.ToJsonString());
            Assert.True((bool)manifest["verification"]!["restoreTested"]!);
            Assert.True((long)manifest["rowCounts"]!["messages"]! >= 2);

            after = (string)(await app.CreateConversationAsync())["id"]!; // written after the backup: gone once it is restored

            var list = await Http.JsonAsync(await app.Client.GetAsync("/v1/admin/backups"));
            Assert.Equal(backupId, (string?)list["data"]![0]!["id"]);
            Assert.InRange((double)list["lastVerifiedAgeSeconds"]!, 0, 300);
            Assert.Single(await app.AuditEventsAsync("backup.created"));
            Assert.Matches("agentry_backup_age_seconds(\\{[^}]*\\})? \\d", await app.CreateApiClient(AgentryApp.AdminKey).GetStringAsync("/metrics"));
            await using var scope = app.Services.CreateAsyncScope();
            tables = TableFingerprint.Tables(scope.ServiceProvider.GetRequiredService<AgentryDbContext>());
        }
        ClearPools();

        // The service is stopped; the operator restores from the command line.
        var listed = await AgentryProcess.RunCommandAsync(_folder, "backups", "list");
        Assert.Contains(backupId, listed.Output);
        Assert.Contains("restore-tested", listed.Output);
        var restored = await AgentryProcess.RunCommandAsync(_folder, "restore", backupId);
        Assert.True(restored.ExitCode == 0, restored.Output);
        Assert.Contains("previous database is kept", restored.Output);
        ClearPools();

        // Identical: every table's row count and content checksum equal the manifest, taken under load; the audit log
        // holds one event more, the restore's own.
        await using (var connection = TestDatabase.Connect(_folder))
        {
            await connection.OpenAsync();
            var (counts, checksums) = await TableFingerprint.ReadAsync(connection, tables, null, CancellationToken.None);
            foreach (var (table, count) in counts.Where(c => !c.Key.StartsWith("audit_", StringComparison.Ordinal)))
            {
                Assert.Equal((long)manifest["rowCounts"]![table]!, count);
                Assert.Equal((string?)manifest["tableChecksums"]![table], checksums[table]);
            }
            Assert.Equal((long)manifest["rowCounts"]!["audit_events"]! + (long)manifest["rowCounts"]!["audit_outbox"]! + 1, counts["audit_events"] + counts["audit_outbox"]);
        }
        await using (var app = new AgentryApp(settings: new() { ["Data:Directory"] = _folder }))
        {
            Assert.Equal(2, (await app.MessagesAsync(before)).Count);
            await Http.ProblemAsync(await app.Client.GetAsync($"/v1/conversations/{after}"), 404, Agentry.Api.ProblemTypes.ConversationNotFound);
            await Wait.UntilAsync(async () => (await Http.JsonAsync(await app.Client.GetAsync("/v1/admin/audit?action=backup.restored")))["data"]!.AsArray().Count == 1,
                because: "the restore is audited in the restored database");
            Assert.True((bool)(await Http.JsonAsync(await app.Client.GetAsync("/v1/admin/audit/verify")))["valid"]!);
        }
    }

    [Fact]
    public async Task A_restore_refuses_a_backup_with_a_wrong_checksum_or_an_unknown_schema_version()
    {
        var id = await BackUpOneConversationAsync();
        var backups = Path.Combine(_folder, "backups");
        var file = Directory.GetFiles(backups).Single(f => !f.EndsWith(".manifest.json", StringComparison.Ordinal));
        var manifestPath = Path.Combine(backups, id + ".manifest.json");
        var original = await File.ReadAllTextAsync(manifestPath);

        await File.AppendAllTextAsync(file, "tampered");
        var tampered = await AgentryProcess.RunCommandAsync(_folder, "restore", id);
        Assert.Equal(1, tampered.ExitCode);
        Assert.Contains("checksum does not match", tampered.Output);

        var manifest = JsonNode.Parse(original)!;
        manifest["schemaVersion"] = "29991231000000_FromTheFuture";
        await File.WriteAllTextAsync(manifestPath, manifest.ToJsonString());
        await File.WriteAllBytesAsync(file, (await File.ReadAllBytesAsync(file))[..^"tampered".Length]); // checksum right again
        var future = await AgentryProcess.RunCommandAsync(_folder, "restore", id);
        Assert.Equal(1, future.ExitCode);
        Assert.Contains("schema version 29991231000000_FromTheFuture is unknown", future.Output);
    }

    const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    [Fact]
    public async Task An_encrypted_backup_holds_no_readable_data_restores_only_with_its_key_and_every_file_is_the_owners_alone()
    {
        var key = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
        var settings = new Dictionary<string, string?> { ["Data:Directory"] = _folder, ["Backup:EncryptionKey"] = key };
        string id, conversation;
        await using (var app = new AgentryApp(settings: settings))
        {
            conversation = (string)(await app.CreateConversationAsync())["id"]!;
            await app.SendAsync(conversation, "my secret order number is 987654321");
            var manifest = await Http.JsonAsync(await app.Client.PostAsync("/v1/admin/backups", null));
            id = (string)manifest["id"]!;
            Assert.Equal("aes-256-gcm-stream-v1", (string?)manifest["encryption"]);
            Assert.EndsWith(".enc", (string)manifest["file"]!);
            Assert.True((bool)manifest["verification"]!["ok"]!, manifest.ToJsonString());
            Assert.True((bool)manifest["verification"]!["restoreTested"]!); // decrypted, restored and compared
        }
        ClearPools();
        var backups = Path.Combine(_folder, "backups");
        var file = Directory.GetFiles(backups, "*.enc").Single();
        var bytes = await File.ReadAllBytesAsync(file);
        Assert.StartsWith("AGENTRY-BACKUP1\n", System.Text.Encoding.ASCII.GetString(bytes, 0, 16));
        Assert.DoesNotContain("987654321", System.Text.Encoding.UTF8.GetString(bytes));
        Assert.DoesNotContain("SQLite format", System.Text.Encoding.UTF8.GetString(bytes));
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(backups));
            Assert.All(Directory.GetFiles(backups), f => Assert.Equal(OwnerOnly, File.GetUnixFileMode(f)));
        }

        // Without the key, or with another, a restore says which key it needs and changes nothing.
        var keyless = await AgentryProcess.RunCommandAsync(_folder, "restore", id);
        Assert.Equal(1, keyless.ExitCode);
        Assert.Contains("is encrypted (backup key", keyless.Output);
        var wrong = await AgentryProcess.RunCommandAsync(_folder, new Dictionary<string, string> { ["AGENTRY_BACKUP_KEY"] = Convert.ToBase64String(new byte[32]) }, "restore", id);
        Assert.Equal(1, wrong.ExitCode);
        Assert.Contains("was encrypted with backup key", wrong.Output);
        var restored = await AgentryProcess.RunCommandAsync(_folder, new Dictionary<string, string> { ["AGENTRY_BACKUP_KEY"] = key }, "restore", id);
        Assert.True(restored.ExitCode == 0, restored.Output);
        Assert.Empty(Directory.GetFiles(backups, "*decrypted*")); // the plain copy a restore needs is gone again
        ClearPools();
        await using (var app = new AgentryApp(settings: settings))
            Assert.Contains("987654321", (await app.MessagesAsync(conversation)).ToJsonString());

        using var empty = new TempFolder("agentry-nokey-");
        var refused = await AgentryProcess.RunCommandAsync(empty.Path, "backup", "--encrypt");
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("--encrypt needs a backup key", refused.Output);
    }

    [Fact]
    public async Task A_restore_takes_only_names_in_the_backup_folder_and_says_when_a_backup_is_of_the_other_database()
    {
        var id = await BackUpOneConversationAsync();
        var backups = Path.Combine(_folder, "backups");
        var manifestPath = Path.Combine(backups, id + ".manifest.json");
        var manifest = JsonNode.Parse(await File.ReadAllTextAsync(manifestPath))!;

        var path = await AgentryProcess.RunCommandAsync(_folder, "restore", "/etc/passwd");
        Assert.Equal(1, path.ExitCode);
        Assert.Contains("is not a backup's id or file name", path.Output);

        // A manifest that names a file outside the folder (edited, or copied from elsewhere) is not a backup at all.
        var outside = Path.Combine(_folder, "outside.txt");
        await File.WriteAllTextAsync(outside, "keep me");
        var forged = manifest.DeepClone();
        forged["id"] = "backup-forged";
        forged["file"] = "../outside.txt";
        await File.WriteAllTextAsync(Path.Combine(backups, "backup-forged.manifest.json"), forged.ToJsonString());
        var listed = await AgentryProcess.RunCommandAsync(_folder, "backups", "list");
        Assert.DoesNotContain(listed.Output.Split('\n'), line => line.StartsWith("backup-forged", StringComparison.Ordinal));
        Assert.Contains("names a file outside the backup folder; it is ignored", listed.Output);
        Assert.Equal(1, (await AgentryProcess.RunCommandAsync(_folder, "restore", "backup-forged")).ExitCode);
        Assert.True(File.Exists(outside));

        manifest["provider"] = TestDatabase.IsPostgres ? "sqlite" : "postgres";
        await File.WriteAllTextAsync(manifestPath, manifest.ToJsonString());
        var other = await AgentryProcess.RunCommandAsync(_folder, "restore", id);
        Assert.Equal(1, other.ExitCode);
        Assert.Contains(TestDatabase.IsPostgres ? "it is a SQLite backup and this installation uses PostgreSQL" : "it is a PostgreSQL backup and this installation uses SQLite",
            other.Output);
    }

    /// <summary>Starts the app on the test's folder, holds one conversation, takes a backup and stops: returns the backup's id.</summary>
    async Task<string> BackUpOneConversationAsync()
    {
        string id;
        await using (var app = new AgentryApp(settings: new() { ["Data:Directory"] = _folder }))
        {
            await app.CreateConversationAsync();
            id = (string)(await Http.JsonAsync(await app.Client.PostAsync("/v1/admin/backups", null)))["id"]!;
        }
        ClearPools();
        return id;
    }

    static void ClearPools()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Npgsql.NpgsqlConnection.ClearAllPools();
    }

    public void Dispose()
    {
        ClearPools();
        try { Directory.Delete(_folder, recursive: true); } catch (IOException) { }
    }
}
