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
    public async Task Unknown_verbs_print_usage()
    {
        var result = await RunAsync("frobnicate");
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("Usage: agentry", result.Output);
    }

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_folder, recursive: true);
    }
}
