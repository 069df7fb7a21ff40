using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using Xunit.Abstractions;

namespace Agentry.Tests.Operations;

/// <summary>
/// The crash-safety promise under the write settings that make turns fast (SQLite WAL with synchronous=NORMAL, the
/// default): the real process, turns from eight clients, SIGKILL at a random moment, restart — three times — then every
/// turn that was answered 200 is in the database whole, no turn is half-written, the file is intact and the audit
/// chain verifies. The long variant is the same test with more kills: <c>AGENTRY_CRASH_ROUNDS=20 ./scripts/test.sh --filter CrashUnderLoad</c>.
/// </summary>
public sealed class CrashUnderLoadTests(ITestOutputHelper output) : IDisposable
{
    readonly string _folder = Directory.CreateTempSubdirectory("agentry-crash-").FullName;

    // The load is the point here, not the limits (tested on their own).
    static readonly Dictionary<string, string> Unlimited = new()
    {
        ["RateLimit:PermitsPerMinute"] = "1000000", ["RateLimit:ConcurrentRequests"] = "10000", ["RateLimit:TokensPerMinute"] = "", ["RateLimit:TokensPerDay"] = "",
    };

    [Fact]
    public async Task SIGKILLs_under_load_lose_no_acknowledged_turn_and_leave_no_half_written_one()
    {
        var acknowledged = new ConcurrentDictionary<string, (string Conversation, string Content)>(); // assistant message id → its turn
        var random = new Random(20261126);
        var rounds = int.TryParse(Environment.GetEnvironmentVariable("AGENTRY_CRASH_ROUNDS"), out var asked) && asked > 0 ? asked : 3;
        for (var round = 0; round < rounds; round++)
        {
            await using var service = new AgentryProcess(_folder, Unlimited);
            using var client = await service.StartedAsync();
            using var stop = new CancellationTokenSource();
            var clients = Enumerable.Range(0, 8).Select(c => Task.Run(async () =>
            {
                string? conversation = null;
                for (var i = 0; !stop.IsCancellationRequested; i++)
                {
                    try
                    {
                        // Half the clients keep one conversation going, half start a new one each turn.
                        var body = c % 2 == 0 && conversation is not null
                            ? (object)new { message = $"round {round} client {c} turn {i}", conversationId = conversation }
                            : new { message = $"round {round} client {c} turn {i}", agentId = "support" };
                        var response = await client.PostAsJsonAsync("/v1/chat", body, stop.Token);
                        if (response.StatusCode != HttpStatusCode.OK) continue;
                        var turn = await Http.JsonAsync(response);
                        conversation = (string)turn["conversationId"]!;
                        var reply = turn["messages"]!.AsArray().Last(m => (string?)m!["role"] == "assistant")!;
                        acknowledged[(string)reply["id"]!] = (conversation, (string)reply["content"]!);
                    }
                    catch (Exception e) when (e is HttpRequestException or OperationCanceledException or IOException)
                    {
                        return; // the process is gone
                    }
                }
            })).ToArray();
            await Task.Delay(TimeSpan.FromMilliseconds(random.Next(1500, 4000)));
            service.KillHard();
            await stop.CancelAsync();
            await Task.WhenAll(clients).WaitAsync(TimeSpan.FromSeconds(60));
            output.WriteLine($"round {round}: {acknowledged.Count} turns acknowledged so far");
        }
        Assert.True(acknowledged.Count > 10 * rounds, $"only {acknowledged.Count} turns were acknowledged in {rounds} rounds: the load did not run");

        // The service starts again on what the kills left (recovering SQLite's log), and every acknowledged reply is there.
        await using (var restarted = new AgentryProcess(_folder, Unlimited))
        {
            using var client = await restarted.StartedAsync();
            await Http.ExpectAsync(await client.GetAsync("/health/ready"), HttpStatusCode.OK);
        }
        var stored = new Dictionary<string, (string Conversation, string Content, string Status)>();
        await using (var connection = TestDatabase.Connect(_folder, readOnly: true))
        {
            await connection.OpenAsync();
            await using var query = connection.CreateCommand();
            query.CommandText = "SELECT id, conversation_id, content, status FROM messages WHERE role = 'assistant'";
            await using var reader = await query.ExecuteReaderAsync();
            while (await reader.ReadAsync()) stored[reader.GetString(0)] = (reader.GetString(1), reader.GetString(2), reader.GetString(3));
        }
        var lost = acknowledged.Where(a => !stored.TryGetValue(a.Key, out var s) || s != (a.Value.Conversation, a.Value.Content, "completed")).ToList();
        Assert.True(lost.Count == 0, $"{lost.Count} of {acknowledged.Count} acknowledged turns are missing or changed, e.g. {lost.FirstOrDefault().Key}");

        // A turn is stored whole or not at all: every user message has its reply right after it, and sequences have no gaps.
        Assert.Equal("0", Scalar("""
            SELECT count(*) FROM messages u WHERE u.role = 'user'
              AND NOT EXISTS (SELECT 1 FROM messages a WHERE a.conversation_id = u.conversation_id AND a.sequence > u.sequence AND a.role = 'assistant')
            """));
        Assert.Equal("0", Scalar("SELECT count(*) FROM conversations c WHERE c.last_sequence <> (SELECT coalesce(max(sequence), 0) FROM messages m WHERE m.conversation_id = c.id)"));
        Assert.Equal("0", Scalar("SELECT count(*) FROM conversations c WHERE (SELECT count(*) FROM messages m WHERE m.conversation_id = c.id) <> c.last_sequence"));
        if (!TestDatabase.IsPostgres) Assert.Equal("ok", Scalar("PRAGMA integrity_check"));
        var verify = await AgentryProcess.RunCommandAsync(_folder, "audit", "verify");
        Assert.True(verify.ExitCode == 0, verify.Output);
    }

    string Scalar(string sql) => Convert.ToString(TestDatabase.ScalarAsync(_folder, sql, readOnly: true).GetAwaiter().GetResult(), System.Globalization.CultureInfo.InvariantCulture)!;

    public void Dispose()
    {
        try { Directory.Delete(_folder, recursive: true); } catch (IOException) { }
    }
}
