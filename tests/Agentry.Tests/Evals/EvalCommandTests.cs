using System.Text.Json.Nodes;
using System.Xml.Linq;

namespace Agentry.Tests.Evals;

/// <summary>
/// <c>agentry eval run</c> as a deployment pipeline runs it: the real executable on a data folder, exit codes, the table,
/// JUnit and JSON files. On SQLite only: the command is the same on PostgreSQL, and the API tests run there.
/// </summary>
[Trait("Database", "sqlite")]
public sealed class EvalCommandTests
{
    [Fact]
    public async Task The_demo_suite_passes_from_a_fresh_folder_and_a_billing_agent_that_forgets_the_refund_limit_fails_as_a_regression()
    {
        using var folder = new TempFolder("agentry-eval-");
        var data = folder.Path;
        var junit = Path.Combine(data, "reports", "evals.xml");
        var json = Path.Combine(data, "reports", "evals.json");
        var (exit, output) = await AgentryProcess.RunCommandAsync(data, "eval", "run", "help-desk", "--junit", junit, "--json", json);
        Assert.True(exit == 0, output);
        Assert.Matches(@"PASSED: 1\d case\(s\) hold\.", output);
        Assert.Contains("refund-above-policy-waits-for-a-supervisor", output);
        Assert.Contains("skip", output); // the judged expectations, without a judge model
        var suite = XDocument.Load(junit).Root!.Element("testsuite")!;
        Assert.True(suite.Elements("testcase").Count() >= 12);
        Assert.Equal("0", suite.Attribute("failures")!.Value);
        var report = JsonNode.Parse(await File.ReadAllTextAsync(json))!;
        Assert.Equal("passed", (string?)report["status"]);
        var refundCall = report["results"]!.AsArray().Single(r => (string?)r!["case"] == "refund-within-policy")!["turns"]![0]!["reply"]!.ToString();
        Assert.Contains("RF-TEST0001", refundCall); // the case's declared dry-run result, not a filed refund

        // The billing agent forgets the refund limit: its instructions and its rule.
        var agents = Path.Combine(data, "agents");
        CopyFolder(Path.Combine(AppContext.BaseDirectory, "agent-definitions"), agents);
        var billing = await File.ReadAllTextAsync(Path.Combine(agents, "billing.yaml"));
        billing = billing.Replace(" Refunds up to 100 USD can be promised; larger refunds need a supervisor's approval.", "", StringComparison.Ordinal);
        var rule = billing.IndexOf("  - id: refund-limit", StringComparison.Ordinal);
        billing = billing.Remove(rule, billing.IndexOf("  - id: no-card-numbers-in-replies", StringComparison.Ordinal) - rule);
        await File.WriteAllTextAsync(Path.Combine(agents, "billing.yaml"), billing);
        var broken = new Dictionary<string, string> { ["Agents:Directory"] = agents };
        (exit, output) = await AgentryProcess.RunCommandAsync(data, broken, "eval", "run", "help-desk", "--baseline", "latest");
        Assert.True(exit == 1, output);
        // The operator's refund policy (ApprovalAbove 100) still holds the refund; the agent's own rule no longer does.
        Assert.Matches(@"refund-above-policy-waits-for-a-supervisor\s+1\s+rule: refund-limit \(require-approval\)\s+FAIL\s+", output);
        Assert.Matches(@"refund-above-policy-waits-for-a-supervisor\s+1\s+approval: pending\s+pass", output);
        Assert.Contains("REGRESSED help-desk/refund-above-policy-waits-for-a-supervisor", output);
        Assert.Matches(@"changed billing [0-9a-f]{12} -> [0-9a-f]{12}", output);
        Assert.Matches(@"FAILED: \d of 1\d case\(s\) do not hold, \d regressed", output);

        // Without that policy nothing holds the refund any more: the case says so.
        var noPolicy = new Dictionary<string, string>(broken)
        {
            ["Tools:Policies:0:Tool"] = "refund", ["Tools:Policies:0:AmountArgument"] = "amount", ["Tools:Policies:0:MaxPerCall"] = "100000", // no ApprovalAbove
        };
        (exit, output) = await AgentryProcess.RunCommandAsync(data, noPolicy, "eval", "run", "help-desk");
        Assert.True(exit == 1, output);
        Assert.Matches(@"refund-above-policy-waits-for-a-supervisor\s+1\s+approval: pending\s+FAIL\s+nothing waits for approval \(calls: refund\(amount=250", output);

        // Dry run: neither run filed anything.
        await using var app = new AgentryApp(settings: new() { ["Data:Directory"] = data, ["Agents:Directory"] = agents });
        Assert.Empty(await app.AuditEventsAsync("refund.requested"));
    }

    [Fact]
    public async Task Two_models_are_compared_side_by_side_and_a_suite_that_cannot_be_read_exits_2()
    {
        await using var fake = new FakeOpenAiServer();
        using var folder = new TempFolder("agentry-eval-");
        var data = folder.Path;
        var suite = Path.Combine(data, "compare.yaml");
        await File.WriteAllTextAsync(suite, """
            suite: compare
            cases:
              - id: routes-to-billing
                turns:
                  - user: I was charged twice for my subscription this month
                    expect: { agent: billing }
              - id: quotes-the-help-center
                agent: billing
                turns:
                  - user: How many days do I have to cancel and still get my money back?
                    expect: { contains: 30 days }
            """);
        var settings = new Dictionary<string, string> { ["Models:Endpoints:openai:ApiKey"] = "sk-test", ["Models:Endpoints:openai:BaseUrl"] = fake.BaseUrl };
        var (exit, output) = await AgentryProcess.RunCommandAsync(data, settings, "eval", "run", suite, "--model", "offline", "--model", "openai/gpt-4o-mini");
        Assert.True(exit == 1, output); // the fake provider does not quote the help-center
        Assert.Matches(@"\s+offline\s+openai/gpt-4o-mini", output);
        Assert.Matches(@"cases holding\s+2/2\s+1/2", output);
        Assert.Matches(@"quotes-the-help-center\s+openai/gpt-4o-mini\s+1\s+contains: 30 days\s+FAIL\s+the reply: ""fake reply to", output);
        Assert.Contains(fake.Requests, r => (string?)r.Body["model"] == "gpt-4o-mini");

        await File.WriteAllTextAsync(suite, "suite: compare\ncases:\n  - id: one\n    turns:\n      - user: hi\n        expect: { contain: hi }\n");
        (exit, output) = await AgentryProcess.RunCommandAsync(data, "eval", "run", suite);
        Assert.True(exit == 2, output);
        Assert.Contains("compare.yaml, line 6: 'contain' is not an expectation", output);
        (exit, output) = await AgentryProcess.RunCommandAsync(data, "eval", "run", "no-such-suite");
        Assert.True(exit == 2, output);
        Assert.Contains("There is no suite 'no-such-suite'", output);
    }

    /// <summary>An embedding provider that cannot be reached: one line and exit 2, not a stack trace (and not case failures that are not the agents').</summary>
    [Fact]
    public async Task Knowledge_that_cannot_be_indexed_exits_2_with_one_line()
    {
        using var folder = new TempFolder("agentry-eval-");
        var data = folder.Path;
        TestDatabase.StartEmpty(data); // a fresh folder: the help-center is indexed by this command, with the provider's model
        var dead = Data.PostgresServer.FreePort();
        var (exit, output) = await AgentryProcess.RunCommandAsync(data, new Dictionary<string, string>
        {
            ["Knowledge:EmbeddingModel"] = "openai/text-embedding-3-small", ["Models:Endpoints:openai:ApiKey"] = "sk-test",
            ["Models:Endpoints:openai:BaseUrl"] = $"http://127.0.0.1:{dead}/v1",
        }, "eval", "run", "help-desk");
        Assert.True(exit == 2, output);
        Assert.Contains("The knowledge folder could not be indexed", output);
        Assert.DoesNotContain("   at ", output);
    }

    static void CopyFolder(string from, string to)
    {
        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(to, Path.GetRelativePath(from, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
    }
}
