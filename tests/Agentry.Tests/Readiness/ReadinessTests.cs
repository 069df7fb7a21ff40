using System.Net;
using System.Text.Json.Nodes;
using Agentry.Api;

namespace Agentry.Tests.Readiness;

/// <summary>
/// The production checklist (<c>GET /v1/admin/readiness</c>, <c>agentry doctor</c>): the zero-set-up start scores low and
/// says why, each failed item names its fix, fixing one raises the score by its weight, and <c>--strict</c> fails a
/// pipeline. The documented production set-up scoring at least 95 is tested on the compose settings (DeploymentTests).
/// </summary>
public sealed class ReadinessTests : IDisposable
{
    readonly string _folder = Directory.CreateTempSubdirectory("agentry-doctor-").FullName;

    static List<string> Failed(JsonObject report) =>
        report["checks"]!.AsArray().Where(c => !(bool)c!["passed"]!).Select(c => (string)c!["id"]!).ToList();

    [Fact]
    public async Task The_zero_setup_start_scores_low_with_a_fix_for_each_failed_item_and_doctor_strict_fails_a_pipeline()
    {
        // What `dotnet run` does with nothing configured: a generated admin key and secrets key, the offline model, daily backups.
        await using var service = new AgentryProcess(_folder, new() { ["AGENTRY_SECRETS_KEY"] = "", ["Backup:Scheduled"] = "true" }, adminKey: null);
        using var client = await service.StartedAsync(apiKey: null);
        var key = (await File.ReadAllTextAsync(Path.Combine(_folder, "admin-key.txt"))).Trim();
        client.DefaultRequestHeaders.Authorization = new("Bearer", key);
        var report = await Http.JsonAsync(await client.GetAsync("/v1/admin/readiness"));

        var score = (int)report["score"]!;
        Assert.InRange(score, 20, 59);
        var categories = report["categories"]!.AsArray();
        Assert.Equal(["Security", "Monitoring", "Operations", "Reliability"], categories.Select(c => (string)c!["name"]!));
        Assert.Equal(100, categories.Sum(c => (int)c!["maxPoints"]!));
        Assert.Equal(score, categories.Sum(c => (int)c!["points"]!));
        var failed = Failed(report);
        foreach (var expected in new[] { "bootstrap-key", "secrets-key", "metrics", "alert-webhook", "model-provider", "backup-encrypted", "redis" })
            Assert.Contains(expected, failed);
        Assert.Equal(TestDatabase.IsPostgres, !failed.Contains("postgres"));
        foreach (var check in report["checks"]!.AsArray())
            Assert.Equal(!(bool)check!["passed"]!, !string.IsNullOrWhiteSpace((string?)check["fix"]));
        var model = report["checks"]!.AsArray().Single(c => (string?)c!["id"] == "model-provider")!;
        Assert.Contains("OPENAI_API_KEY", (string?)model["fix"]);

        // The command line reads the same settings and data, and a pipeline's --strict fails below its bar.
        var settings = new Dictionary<string, string> { ["Backup:Scheduled"] = "true", ["ASPNETCORE_ENVIRONMENT"] = "Production" };
        var doctor = await AgentryProcess.RunCommandAsync(_folder, settings, "doctor", "--strict", "90");
        Assert.Equal(1, doctor.ExitCode);
        Assert.Matches(@"Score: \d+/100", doctor.Output);
        Assert.Contains("below --strict 90", doctor.Output);
        Assert.Contains("fix: Set OPENAI_API_KEY", doctor.Output);
        var json = await AgentryProcess.RunCommandAsync(_folder, settings, "doctor", "--json");
        Assert.Equal(0, json.ExitCode);
        var fromCli = JsonNode.Parse(json.Output[json.Output.IndexOf('{')..])!.AsObject();
        // A scheduled backup may complete between the two readings; everything else is read the same way.
        Assert.Equal(failed.Where(id => id != "backup-verified"), Failed(fromCli).Where(id => id != "backup-verified"));
        Assert.Equal(1, (await AgentryProcess.RunCommandAsync(_folder, settings, "doctor", "--strict", "101")).ExitCode);
    }

    [Fact]
    public async Task Fixing_an_item_raises_the_score_by_its_weight_and_only_admins_may_read_the_report()
    {
        await using var app = new AgentryApp(settings: new() { ["Monitoring:WebhookUrl"] = "https://alerts.example.com/change-me" });
        var before = await Http.JsonAsync(await app.Client.GetAsync("/v1/admin/readiness"));
        var webhook = before["checks"]!.AsArray().Single(c => (string?)c!["id"] == "alert-webhook")!;
        Assert.False((bool)webhook["passed"]!);
        Assert.Contains("placeholder", (string?)webhook["found"]); // the compose example's value, copied unchanged, does not count

        // Prometheus's key: once it has scraped, the metrics item passes.
        var (_, secret) = await app.CreateKeyAsync("prometheus", ["metrics"]);
        using var scraper = app.CreateApiClient(secret);
        Assert.Equal(HttpStatusCode.OK, (await scraper.GetAsync("/metrics")).StatusCode);
        var after = await Http.JsonAsync(await app.Client.GetAsync("/v1/admin/readiness"));
        Assert.DoesNotContain("metrics", Failed(after));
        var weight = (int)after["checks"]!.AsArray().Single(c => (string?)c!["id"] == "metrics")!["weight"]!;
        Assert.Equal((int)before["score"]! + weight, (int)after["score"]!);

        // The report names weaknesses of the deployment: a key that only chats or scrapes may not read it.
        var (_, chat) = await app.CreateKeyAsync("widget", ["chat", "read"]);
        await Http.ProblemAsync(await app.CreateApiClient(chat).GetAsync("/v1/admin/readiness"), 403, ProblemTypes.Forbidden);
        await Http.ProblemAsync(await scraper.GetAsync("/v1/admin/readiness"), 403, ProblemTypes.Forbidden);
    }

    public void Dispose()
    {
        try { Directory.Delete(_folder, recursive: true); } catch (IOException) { }
    }
}
