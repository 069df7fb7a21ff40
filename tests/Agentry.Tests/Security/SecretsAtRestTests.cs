using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Agentry.Tests.Mcp;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Agentry.Tests.Security;

/// <summary>
/// Stored secrets (an MCP server's env and headers) are encrypted with a key ring kept in the database, and the ring with
/// a secrets key kept outside it: a copy of the database (a dump, a backup) decrypts nothing on its own.
/// </summary>
public sealed class SecretsAtRestTests
{
    const string Marker = "EVERYTHING_MARKER";

    static async Task<string> ScalarTextAsync(string folder, string sql) =>
        Convert.ToString(await TestDatabase.ScalarAsync(folder, sql), System.Globalization.CultureInfo.InvariantCulture) ?? "";

    static async Task<string> EnvironmentOfAsync(AgentryApp app)
    {
        await Wait.UntilAsync(async () => (string?)(await Http.JsonAsync(await app.Client.GetAsync("/v1/mcp/servers/everything")))["status"] == "connected",
            TimeSpan.FromSeconds(60), "connected");
        await app.Client.PutAsJsonAsync("/v1/agents/helper", new { name = "Helper", tools = new[] { "mcp:everything/get-env" } });
        var turn = await Http.JsonAsync(await app.Client.PostAsJsonAsync("/v1/chat", new { message = "/tool mcp:everything/get-env", agentId = "helper" }));
        return turn.ToJsonString();
    }

    [Fact]
    public async Task The_key_ring_is_encrypted_with_a_key_kept_outside_the_database_and_start_up_names_a_missing_or_wrong_key()
    {
        var folder = Directory.CreateTempSubdirectory("agentry-secrets-").FullName;
        // No key configured: a single machine keeps it in its data folder.
        var settings = new Dictionary<string, string?> { ["Data:Directory"] = folder, ["Mcp:AllowStdioFromApi"] = "true", ["Security:SecretsKey"] = null };
        try
        {
            await using (var app = new AgentryApp(settings: settings))
            {
                await Http.ExpectAsync(await app.Client.PostAsJsonAsync("/v1/mcp/servers", new
                {
                    name = "everything", transport = "stdio", command = "node", args = new[] { await EverythingServer.ScriptAsync(), "stdio" },
                    env = new Dictionary<string, string> { [Marker] = "kept-secret" },
                }), HttpStatusCode.Created);
                Assert.Contains("kept-secret", await EnvironmentOfAsync(app));
            }
            var ring = await ScalarTextAsync(folder, "SELECT xml FROM data_protection_keys");
            Assert.Contains("agentrySecretsKeyEncrypted", ring);
            Assert.DoesNotContain("<value>", ring); // no key material in the clear
            var keyFile = Path.Combine(folder, "secrets.key");
            if (!OperatingSystem.IsWindows()) Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(keyFile));
            var key = (await File.ReadAllTextAsync(keyFile)).Trim();

            // The database without its key: start-up stops with one line that says what is missing.
            File.Move(keyFile, keyFile + ".elsewhere");
            var (exit, output) = await AgentryProcess.RunCommandAsync(folder, new Dictionary<string, string>());
            Assert.NotEqual(0, exit);
            Assert.Contains("secrets key ring encrypted with a secrets key, but none is configured", output);
            Assert.DoesNotContain("   at ", output);
            Assert.False(File.Exists(keyFile)); // and no new key was made up in its place

            (exit, output) = await AgentryProcess.RunCommandAsync(folder, new Dictionary<string, string> { ["AGENTRY_SECRETS_KEY"] = Convert.ToBase64String(new byte[32]) });
            Assert.NotEqual(0, exit);
            Assert.Contains("is encrypted with secrets key", output);

            // The right key, given the way several instances get it: the secret is readable again.
            await using var restored = new AgentryApp(settings: new(settings) { ["Security:SecretsKey"] = key });
            Assert.Contains("kept-secret", await EnvironmentOfAsync(restored));
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            try { Directory.Delete(folder, recursive: true); } catch (IOException) { }
        }
    }

    [Fact]
    public async Task A_ring_an_earlier_version_stored_in_the_clear_is_encrypted_on_start_and_still_decrypts()
    {
        var folder = Directory.CreateTempSubdirectory("agentry-secrets-").FullName;
        var legacy = Directory.CreateTempSubdirectory("agentry-legacy-ring-");
        var settings = new Dictionary<string, string?> { ["Data:Directory"] = folder, ["Mcp:AllowStdioFromApi"] = "true", ["Security:SecretsKey"] = null };
        try
        {
            // What the previous version wrote: a Data Protection key with no encryptor, and a server's secrets protected by it.
            var provider = DataProtectionProvider.Create(legacy, b => b.SetApplicationName("agentry"));
            var secrets = provider.CreateProtector("Agentry.Mcp.ServerSecrets").Protect(JsonSerializer(new { env = new Dictionary<string, string> { [Marker] = "legacy-secret" }, headers = new Dictionary<string, string>() }));
            var keyXml = await File.ReadAllTextAsync(legacy.GetFiles("*.xml").Single().FullName);
            Assert.Contains("<value>", keyXml);
            await using (var app = new AgentryApp(settings: settings))
            {
                await using var scope = app.Service<IServiceScopeFactory>().CreateAsyncScope();
                var db = scope.ServiceProvider.GetRequiredService<Agentry.Data.AgentryDbContext>();
                db.DataProtectionKeys.Add(new DataProtectionKey { FriendlyName = "legacy", Xml = System.Xml.Linq.XElement.Parse(keyXml).ToString() });
                db.McpServers.Add(new Agentry.Mcp.StoredMcpServer
                {
                    Name = "everything", CreatedAt = DateTimeOffset.UtcNow, Secrets = secrets,
                    Definition = JsonSerializer(new
                    {
                        transport = "stdio", command = "node", args = new[] { await EverythingServer.ScriptAsync(), "stdio" },
                        env = new Dictionary<string, string> { [Marker] = "" }
                    }),
                });
                await db.SaveChangesAsync();
            }

            await using var upgraded = new AgentryApp(settings: settings);
            Assert.Contains("legacy-secret", await EnvironmentOfAsync(upgraded));
            var ring = await ScalarTextAsync(folder, "SELECT xml FROM data_protection_keys WHERE friendly_name = 'legacy'");
            Assert.Contains("agentrySecretsKeyEncrypted", ring);
            Assert.DoesNotContain("<value>", ring);
            JsonArray audit = [];
            await Wait.UntilAsync(async () => (audit = (await Http.JsonAsync(await upgraded.Client.GetAsync("/v1/admin/audit?action=security.keyring.encrypted")))["data"]!.AsArray()).Count == 1,
                because: "the migration is audited");
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            try { Directory.Delete(folder, recursive: true); } catch (IOException) { }
            legacy.Delete(recursive: true);
        }
    }

    static string JsonSerializer(object value) => System.Text.Json.JsonSerializer.Serialize(value, System.Text.Json.JsonSerializerOptions.Web);
}
