using System.Net.Http.Json;
using Agentry.Api;
using Agentry.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Agentry.Tests.Observability;

public sealed class ErrorTrackingTests
{
    [Fact]
    public async Task Failures_are_grouped_counted_and_survive_a_restart()
    {
        var folder = Directory.CreateTempSubdirectory("agentry-errors-").FullName;
        try
        {
            await using (var openAi = new FakeOpenAiServer())
            await using (var app = new AgentryApp(openAi, new() { ["Data:Directory"] = folder, ["Models:Resilience:MaxRetries"] = "0" }))
            {
                openAi.Enqueue(FakeReply.Fail(500), FakeReply.Fail(500), FakeReply.Fail(401));
                for (var i = 0; i < 3; i++) await app.Client.PostAsJsonAsync("/v1/chat", new { message = $"try {i}", agentId = "support" });

                // A bug: a table disappears under the service. Two requests, one group.
                await using (var scope = app.Services.CreateAsyncScope())
                    await scope.ServiceProvider.GetRequiredService<AgentryDbContext>().Database.ExecuteSqlRawAsync("DROP TABLE agents");
                var broken = await app.Client.PostAsJsonAsync("/v1/agents", new { id = "x", name = "X" });
                var problem = await Http.ProblemAsync(broken, 500, ProblemTypes.Internal);
                Assert.DoesNotContain("agents", (string?)problem["detail"]); // no internals in the response
                await app.Client.GetAsync("/v1/agents/x");

                var groups = (await Http.JsonAsync(await app.Client.GetAsync("/v1/admin/errors")))["data"]!.AsArray();
                var server = groups.Single(g => (string?)g!["type"] == "urn:agentry:problem:upstream-error (502)")!;
                Assert.Equal(2, (long)server["count"]!);
                Assert.Equal("upstream", (string?)server["kind"]);
                Assert.False(string.IsNullOrEmpty((string?)server["sampleTraceId"]));
                Assert.Single(groups, g => (string?)g!["type"] == "urn:agentry:problem:upstream-rejected (502)");
                var bug = groups.Single(g => (string?)g!["kind"] == "exception")!;
                Assert.Equal(2, (long)bug["count"]!);
                Assert.Equal(TestDatabase.IsPostgres ? "Npgsql.PostgresException" : "Microsoft.Data.Sqlite.SqliteException", (string?)bug["type"]);
                Assert.Contains(TestDatabase.IsPostgres ? "does not exist" : "no such table", (string?)bug["lastMessage"]);
                await app.Client.GetAsync("/v1/agents/y"); // a third occurrence, only in memory until shutdown
            }

            await using var restarted = new AgentryApp(settings: new() { ["Data:Directory"] = folder });
            var kept = (await Http.JsonAsync(await restarted.Client.GetAsync("/v1/admin/errors?kind=exception")))["data"]!.AsArray();
            Assert.Equal(3, (long)kept.Single()!["count"]!);
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(folder, recursive: true);
        }
    }

    [Theory]
    [InlineData("call failed with key sk-proj-abcdefghijklmnop", "call failed with key [secret]")]
    [InlineData("Authorization: Bearer agk_abcdefghijkl0123456789", "Authorization: Bearer [secret]")]
    [InlineData("password=hunter22 and api_key: 'abc123'", "password=[secret] and api_key: '[secret]'")]
    public void Messages_lose_their_secrets(string message, string expected) =>
        Assert.Equal(expected, Agentry.Observability.ErrorTracker.Scrub(message));
}
