using System.Net;
using Microsoft.Data.Sqlite;

namespace Agentry.Tests.Operations;

/// <summary>The real executable, run as an operator would, against a data folder shared with a running service.</summary>
public sealed class CommandLineTests : IDisposable
{
    readonly string _folder = Directory.CreateTempSubdirectory("agentry-cli-").FullName;

    Task<(int ExitCode, string Output)> RunAsync(params string[] args) => AgentryProcess.RunCommandAsync(_folder, args);

    [Fact]
    public async Task Keys_are_managed_from_the_command_line_and_work_against_the_service()
    {
        var created = await RunAsync("keys", "create", "--name", "ci", "--scopes", "chat,read", "--requests-per-minute", "50");
        Assert.True(created.ExitCode == 0, created.Output);
        var secret = created.Output.Split('\n').Select(l => l.Trim()).Single(l => l.StartsWith("agk_", StringComparison.Ordinal));
        var keyId = System.Text.RegularExpressions.Regex.Match(created.Output, "key_[0-9a-f]{32}").Value;

        var list = await RunAsync("keys", "list");
        Assert.Contains(keyId, list.Output);
        Assert.Contains("active", list.Output);
        Assert.DoesNotContain(secret, list.Output);

        await using (var app = new AgentryApp(settings: new() { ["Data:Directory"] = _folder }))
        {
            var client = app.CreateApiClient(secret);
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/v1/agents")).StatusCode);
            Assert.Equal(HttpStatusCode.Forbidden, (await client.GetAsync("/v1/admin/keys")).StatusCode);
        }

        var revoked = await RunAsync("keys", "revoke", keyId);
        Assert.True(revoked.ExitCode == 0, revoked.Output);
        Assert.Contains("revoked", (await RunAsync("keys", "list")).Output);
        Assert.Equal(1, (await RunAsync("keys", "revoke", "key_doesnotexist")).ExitCode);

        var invalid = await RunAsync("keys", "create", "--name", "x", "--scopes", "root");
        Assert.Equal(2, invalid.ExitCode);
        Assert.Contains("Unknown scope 'root'", invalid.Output);
    }

    [Fact]
    public async Task Audit_verify_exits_non_zero_when_the_log_was_tampered_with()
    {
        Assert.Equal(0, (await RunAsync("keys", "create", "--name", "a", "--scopes", "read")).ExitCode);
        Assert.Equal(0, (await RunAsync("keys", "create", "--name", "b", "--scopes", "read")).ExitCode);
        var intact = await RunAsync("audit", "verify");
        Assert.True(intact.ExitCode == 0, intact.Output);
        Assert.Contains("2 event(s) verified", intact.Output);

        Assert.Equal(1, await TestDatabase.ExecuteAsync(_folder, "UPDATE audit_events SET actor = 'someone-else' WHERE id = 1"));
        var tampered = await RunAsync("audit", "verify");
        Assert.Equal(1, tampered.ExitCode);
        Assert.Contains("TAMPERED", tampered.Output);
    }

    [Fact]
    public async Task Unknown_commands_and_bad_values_are_reported_by_the_parser_with_the_usage_and_no_stack_trace()
    {
        var unknown = await RunAsync("frobnicate");
        Assert.Equal(1, unknown.ExitCode);
        Assert.Contains("frobnicate", unknown.Output);
        Assert.Contains("Usage:", unknown.Output);

        // Once an int.Parse that printed a stack trace.
        var badNumber = await RunAsync("keys", "create", "--name", "x", "--scopes", "chat", "--requests-per-minute", "lots");
        Assert.Equal(1, badNumber.ExitCode);
        Assert.Contains("--requests-per-minute", badNumber.Output);
        Assert.DoesNotContain("   at ", badNumber.Output);

        var missing = await RunAsync("keys", "create", "--scopes", "chat");
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("--name", missing.Output);
    }

    [Fact]
    public async Task Help_is_generated_for_every_command_and_a_commands_options_never_become_settings()
    {
        var help = await RunAsync("--help");
        Assert.Equal(0, help.ExitCode);
        foreach (var command in new[] { "serve", "migrate", "keys", "secrets", "audit", "backup", "backups", "restore", "export", "import", "version" })
            Assert.Contains(command, help.Output);
        Assert.Equal(help.Output, (await RunAsync("help")).Output);
        var keys = await RunAsync("keys", "create", "--help");
        Assert.Contains("--requests-per-minute", keys.Output);
        Assert.Contains("--tokens-per-day", keys.Output);

        // --name is the key's name, not a setting: it must not reach the host's configuration.
        var created = await RunAsync("keys", "create", "--name", "named", "--scopes", "read");
        Assert.True(created.ExitCode == 0, created.Output);
        Assert.Contains("(named, scopes: read)", created.Output);
        await using var app = new AgentryApp(settings: new() { ["Data:Directory"] = _folder });
        Assert.Null(app.Service<Microsoft.Extensions.Configuration.IConfiguration>()["name"]);

        var key = await RunAsync("secrets", "new-key");
        Assert.Equal(0, key.ExitCode);
        Assert.Equal(32, Convert.FromBase64String(key.Output.Trim()).Length);
    }

    [Fact]
    public async Task A_command_line_revocation_says_how_long_running_instances_without_redis_may_still_accept_the_key()
    {
        var created = await RunAsync("keys", "create", "--name", "leaked", "--scopes", "read");
        var keyId = System.Text.RegularExpressions.Regex.Match(created.Output, "key_[0-9a-f]{32}").Value;
        var revoked = await RunAsync("keys", "revoke", keyId);
        Assert.Equal(0, revoked.ExitCode);
        Assert.Contains("may accept the old secret for up to 5 s more", revoked.Output);
        Assert.DoesNotContain("at once", revoked.Output);
    }

    [Fact]
    public async Task Migrate_script_on_a_current_database_says_there_is_nothing_to_migrate()
    {
        Assert.Equal(0, (await RunAsync("migrate")).ExitCode);
        var script = await RunAsync("migrate", "--script");
        Assert.Equal(0, script.ExitCode);
        Assert.Contains("nothing to migrate", script.Output);
    }

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_folder, recursive: true);
    }
}
