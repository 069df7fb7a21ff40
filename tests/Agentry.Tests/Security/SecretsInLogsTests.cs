using System.Net.Http.Json;

namespace Agentry.Tests.Security;

/// <summary>What a log pipeline receives from a service whose output is redirected, as in a container: never a secret.</summary>
public sealed class SecretsInLogsTests : IDisposable
{
    readonly string _folder = Directory.CreateTempSubdirectory("agentry-secrets-").FullName;

    [Fact]
    public async Task A_generated_admin_key_goes_to_its_file_and_not_to_redirected_output()
    {
        await using var service = new AgentryProcess(_folder, adminKey: null);
        using var client = await service.StartedAsync(apiKey: null);
        var file = Path.Combine(_folder, "admin-key.txt");
        var secret = (await File.ReadAllTextAsync(file)).Trim();
        Assert.StartsWith("agk_", secret);

        using var admin = new HttpClient { BaseAddress = client.BaseAddress };
        admin.DefaultRequestHeaders.Authorization = new("Bearer", secret);
        await Http.ExpectAsync(await admin.GetAsync("/v1/admin/keys"), System.Net.HttpStatusCode.OK); // the file's key works
        Assert.DoesNotContain(secret, service.Output);
        Assert.Contains("admin-key.txt", service.Output); // the log says where to find it
    }

    [Fact]
    public async Task An_imported_admin_key_shows_at_most_a_sixth_of_itself()
    {
        const string chosen = "agk_0123456789abcdefghij"; // 24 characters, the shortest accepted
        await using var service = new AgentryProcess(_folder, adminKey: chosen);
        using var client = await service.StartedAsync(apiKey: chosen);
        var keys = await Http.JsonAsync(await client.GetAsync("/v1/admin/keys"));
        var prefix = (string)keys["data"]!.AsArray().Single()!["prefix"]!;
        Assert.True(prefix.Length <= chosen.Length / 6, $"prefix '{prefix}' shows {prefix.Length} of {chosen.Length} characters");
        Assert.DoesNotContain(chosen[..(chosen.Length / 6 + 1)], service.Output);
        var events = await Http.JsonAsync(await client.GetAsync("/v1/admin/audit?action=security.bootstrap"));
        Assert.DoesNotContain(chosen[..(chosen.Length / 6 + 1)], events.ToJsonString());
    }

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try { Directory.Delete(_folder, recursive: true); } catch (IOException) { }
    }
}
