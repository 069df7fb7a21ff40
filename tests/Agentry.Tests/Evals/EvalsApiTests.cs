using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Agentry.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Agentry.Tests.Evals;

/// <summary>Eval suites and runs through the API: the real turn pipeline, dry-run tools, a judge on the fake provider, the webhook.</summary>
public sealed class EvalsApiTests
{
    const string JudgedSuite = """
        suite: api-judged
        cases:
          - id: refund-runs-dry
            agent: billing
            turns:
              - user: '/tool refund {"amount": 40, "reason": "double charge"}'
                expect:
                  tool: { name: refund, args: { amount: 40 } }
                  judge: "confirms that a refund was started"
          - id: judged-too-low
            agent: support
            turns:
              - user: How do I reset my router?
                expect:
                  judge: { rubric: "gives numbered steps and the reset button's place", threshold: 4 }
          - id: held-above-the-limit
            agent: billing
            turns:
              - user: '/tool refund {"amount": 250, "reason": "annual plan charged twice"}'
                expect:
                  approval: pending
        """;

    [Fact]
    public async Task A_run_judges_with_the_configured_model_acts_on_nothing_and_is_announced()
    {
        await using var fake = new FakeOpenAiServer();
        var secret = "whsec_" + Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
        await using var app = new AgentryApp(fake, new()
        {
            ["Evals:JudgeModel"] = "openai/gpt-4o-mini", ["Models:DefaultModel"] = "offline", // the agents answer offline, the judge is the provider
            ["Webhooks:Endpoints:0:Url"] = fake.RootUrl + "/hooks", ["Webhooks:Endpoints:0:Secret"] = secret,
        });
        // The agents answer offline; only the judge reaches the provider, once per judged expectation, in case order (concurrency 1).
        fake.Enqueue(FakeReply.Say("""{"score": 5, "reason": "it confirms the refund"}"""), FakeReply.Say("Score: 2 - it gives no steps"));

        await Http.ExpectAsync(await app.Client.PostAsJsonAsync("/v1/evals/suites", new { yaml = JudgedSuite }), HttpStatusCode.Created);
        var started = await app.Client.PostAsJsonAsync("/v1/evals/runs", new { suites = new[] { "api-judged" }, concurrency = 1 });
        await Http.ExpectAsync(started, HttpStatusCode.Accepted);
        var run = await Http.JsonAsync(started);
        var runId = (string)run["id"]!;
        Assert.Equal($"/v1/evals/runs/{runId}", started.Headers.Location?.OriginalString);
        Assert.Equal(3, (int)run["casesTotal"]!);

        JsonObject finished = [];
        await Wait.UntilAsync(async () => (string?)(finished = await Http.JsonAsync(await app.Client.GetAsync($"/v1/evals/runs/{runId}")))["status"] != "running",
            because: "the run finishes");
        Assert.Equal("failed", (string?)finished["status"]);
        Assert.Equal(3, (int)finished["casesDone"]!);
        var report = finished["report"]!;
        var cases = report["cases"]!.AsArray().ToDictionary(c => (string)c!["case"]!, c => (bool)c!["holds"]!);
        Assert.True(cases["refund-runs-dry"], report.ToJsonString());
        Assert.False(cases["judged-too-low"]);
        Assert.True(cases["held-above-the-limit"]);
        var judged = report["results"]!.AsArray().Single(r => (string?)r!["case"] == "judged-too-low")!["turns"]![0]!["checks"]![0]!;
        Assert.Equal("failed", (string?)judged["status"]);
        Assert.Contains("scored 2/5 (needs 4)", (string?)judged["reason"]);
        Assert.Equal(2, (double?)judged["value"]);
        Assert.Equal("openai/gpt-4o-mini", (string?)report["judgeModel"]);
        Assert.False(string.IsNullOrEmpty((string?)report["agentVersions"]!["billing"]));

        // The judge read the rubric and the reply fenced as data, never as its instructions.
        var judgeRequest = fake.Requests.First(r => r.Path.EndsWith("/chat/completions", StringComparison.Ordinal));
        Assert.Contains("confirms that a refund was started", judgeRequest.LastUserText);
        Assert.Matches(Fence.Open("agent reply"), judgeRequest.LastUserText);
        Assert.Equal(2, fake.Requests.Count(r => r.Path.EndsWith("/chat/completions", StringComparison.Ordinal)));

        // Dry run: nothing reached the ledger, no refund was filed, the held call waits in no one's queue.
        await using (var scope = app.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<AgentryDbContext>();
            Assert.Equal(0, await db.ToolCalls.CountAsync());
            Assert.Equal(["eval"], await db.Approvals.Select(a => a.Status).Distinct().ToListAsync());
            await Wait.UntilAsync(async () => await db.AuditEvents.AnyAsync(e => e.Action == "eval.run.started"), because: "the start is audited");
            Assert.False(await db.AuditEvents.AnyAsync(e => e.Action == "refund.requested"));
            Assert.False(await db.AuditOutbox.AnyAsync(e => e.Action == "refund.requested"));
        }
        var queue = await Http.JsonAsync(await app.Client.GetAsync("/v1/admin/approvals"));
        Assert.Empty(queue["data"]!.AsArray());

        // The run's conversations are its own record: out of the conversation list, listed by run.
        Assert.Empty((await Http.JsonAsync(await app.Client.GetAsync("/v1/conversations")))["data"]!.AsArray());
        var own = await Http.JsonAsync(await app.Client.GetAsync($"/v1/conversations?evalRunId={runId}"));
        Assert.Equal(3, own["data"]!.AsArray().Count);
        var byAgent = await Http.JsonAsync(await app.Client.GetAsync("/v1/admin/analytics?groupBy=agent"));
        Assert.DoesNotContain(byAgent["data"]!.AsArray(), row => (string?)row!["group"] is "billing" or "support"); // eval turns are not the service's traffic

        await Wait.UntilAsync(() => fake.SignedWebhooks.Any(w => w.Body.Contains("eval.run.completed", StringComparison.Ordinal)), because: "the end is announced");
        var announced = JsonNode.Parse(fake.SignedWebhooks.First(w => w.Body.Contains("eval.run.completed", StringComparison.Ordinal)).Body)!["data"]!;
        Assert.Equal(runId, (string?)announced["run_id"]);
        Assert.Equal("failed", (string?)announced["status"]);

        var listed = await Http.JsonAsync(await app.Client.GetAsync("/v1/evals/runs"));
        Assert.Equal(runId, (string?)listed["data"]![0]!["id"]);
        Assert.Null(listed["data"]![0]!["report"]);
    }

    const string EveryKind = """
        suite: every-kind
        cases:
          - id: all-right
            agent: billing
            turns:
              - user: '/tool refund {"amount": 40, "reason": "double charge"}'
                expect:
                  agent: billing
                  tool: { name: refund, args: { amount: { lte: 100 }, reason: { contains: double } } }
                  noTool: escalate_to_human
                  approval: none
                  contains: refund returned
                  notContains: zebra
                  matches: 'dry run: refund'
                  language: en
                  maxTokens: 500
                  says: returned
                  latencyMs: 60000
                  tokens: 100000
                  costUsd: 1
          - id: routed-ruled-and-cited
            agent: concierge
            turns:
              - user: I was charged twice for my subscription this month
                expect: { handoff: concierge->billing }
              - user: My card 4111 1111 1111 1111 was charged, see?
                expect: { rule: { id: no-card-numbers, action: redact } }
              - user: How many days do I have to cancel and still get my money back?
                expect: { cites: refunds.md }
          - id: workflow-in-order
            agent: plan-advice
            turns:
              - user: Which plan suits a team of ten people?
                expect: { workflow: [sales, support] }
          - id: all-wrong
            agent: billing
            turns:
              - user: '/tool refund {"amount": 40, "reason": "double charge"}'
                expect:
                  agent: sales
                  handoff: billing->support
                  workflow: [support, sales]
                  tool: { name: refund, args: { amount: { gt: 100 } } }
                  noTool: refund
                  approval: pending
                  rule: refund-limit
                  contains: zebra
                  notContains: refund
                  matches: '^zzz'
                  language: de
                  maxTokens: 1
                  cites: plans-and-pricing.md
                  says: I don't know
                  latencyMs: 0
                  tokens: 1
                  costUsd: 0.0000001
        """;

    [Fact]
    public async Task Each_expectation_passes_when_the_agent_does_it_and_fails_with_a_reason_when_it_does_not()
    {
        // A price for the offline model, so a cost budget can be broken.
        await using var app = new AgentryApp(settings: new() { ["Analytics:Prices:offline:InputPerMillion"] = "1", ["Analytics:Prices:offline:OutputPerMillion"] = "1" });
        await Http.ExpectAsync(await app.Client.PostAsJsonAsync("/v1/evals/suites", new { yaml = EveryKind }), HttpStatusCode.Created);
        await Knowledge.KnowledgeFiles.ShippedHelpCenterAsync(app); // a citation needs the help-center indexed
        var run = await Http.JsonAsync(await app.Client.PostAsJsonAsync("/v1/evals/runs", new { suites = new[] { "every-kind" } }));
        JsonObject finished = [];
        await Wait.UntilAsync(async () => (string?)(finished = await Http.JsonAsync(await app.Client.GetAsync($"/v1/evals/runs/{run["id"]}")))["status"] != "running");

        var results = finished["report"]!["results"]!.AsArray();
        var checks = results.SelectMany(r => r!["turns"]!.AsArray().SelectMany(t => t!["checks"]!.AsArray()).Select(c => (Case: (string)r!["case"]!, Check: c!))).ToList();
        var kinds = new[]
        {
            "agent", "handoff", "workflow", "tool", "noTool", "approval", "rule", "contains", "notContains", "matches", "language", "maxTokens", "cites", "says",
            "latencyMs", "tokens", "costUsd",
        };
        foreach (var kind in kinds)
        {
            var named = checks.Where(c => ((string)c.Check["expectation"]!).StartsWith(kind + ":", StringComparison.Ordinal) || ((string)c.Check["expectation"]!).StartsWith(kind + " ≤", StringComparison.Ordinal)).ToList();
            Assert.Contains(named, c => c.Case != "all-wrong" && (string?)c.Check["status"] == "passed");
            var wrong = Assert.Single(named, c => c.Case == "all-wrong");
            Assert.Equal("failed", (string?)wrong.Check["status"]);
            Assert.False(string.IsNullOrWhiteSpace((string?)wrong.Check["reason"]), $"{kind} says why it failed");
        }
        Assert.Equal("failed", (string?)finished["status"]);
        var holds = finished["report"]!["cases"]!.AsArray().ToDictionary(c => (string)c!["case"]!, c => (bool)c!["holds"]!);
        Assert.Equal(new Dictionary<string, bool> { ["all-right"] = true, ["routed-ruled-and-cited"] = true, ["workflow-in-order"] = true, ["all-wrong"] = false }, holds);
        var why = checks.Where(c => c.Case == "all-wrong").ToDictionary(c => (string)c.Check["expectation"]!, c => (string)c.Check["reason"]!);
        Assert.Equal("answered by billing", why["agent: sales"]);
        Assert.Contains("amount was 40, expected gt 100", why["tool: refund(amount gt 100)"]);
        Assert.Contains("refund was called", why["noTool: refund"]);
    }

    [Fact]
    public async Task A_suite_that_cannot_be_read_is_refused_with_each_error_at_its_line()
    {
        await using var app = new AgentryApp();
        var response = await app.Client.PostAsJsonAsync("/v1/evals/suites", new
        {
            yaml = """
                suite: broken
                cases:
                  - id: one
                    agent: nobody
                    turns:
                      - user: hello
                        expect:
                          contain: hello
                          matches: '(unclosed'
                      - expect: { agent: billing }
                """,
        });
        var problem = await Http.ProblemAsync(response, 422, "urn:agentry:problem:eval-suite-invalid");
        var errors = problem["suiteErrors"]!.AsArray().Select(e => (string)e!).ToList();
        Assert.Contains(errors, e => e.StartsWith("line 8: 'contain' is not an expectation", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("line 9: matches:", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("line 10: each turn of case 'one' needs a 'user' message", StringComparison.Ordinal));

        // What a key could send to exhaust the service is refused before any tree is built.
        var deep = "suite: deep\ncases: " + new string('[', 5000) + new string(']', 5000) + "\n";
        var nested = await Http.ProblemAsync(await app.Client.PostAsJsonAsync("/v1/evals/suites", new { yaml = deep }), 422, "urn:agentry:problem:eval-suite-invalid");
        Assert.Contains("nested more than 32 levels", (string)nested["detail"]!);
        var bomb = "suite: bomb\nx: &a [1, 2, 3]\ncases:\n  - id: one\n    turns: *a\n";
        var aliased = await Http.ProblemAsync(await app.Client.PostAsJsonAsync("/v1/evals/suites", new { yaml = bomb }), 422, "urn:agentry:problem:eval-suite-invalid");
        Assert.Contains("aliases (*name) are not allowed", (string)aliased["detail"]!);
        var oddKeys = "suite: odd\ncases:\n  - id: one\n    tools: { [x]: y }\n    turns:\n      - user: hi\n        expect: { noTool: refnd }\n";
        var odd = (await Http.ProblemAsync(await app.Client.PostAsJsonAsync("/v1/evals/suites", new { yaml = oddKeys }), 422, "urn:agentry:problem:eval-suite-invalid"))
            ["suiteErrors"]!.AsArray().Select(e => (string)e!).ToList();
        Assert.Contains("line 4: a key must be plain text.", odd);

        // A misspelt tool would make noTool pass for ever.
        var typo = await app.Client.PostAsJsonAsync("/v1/evals/suites", new { yaml = "suite: typo\ncases:\n  - id: one\n    turns:\n      - user: hi\n        expect: { noTool: refnd }\n" });
        Assert.Contains("there is no tool 'refnd'", (await Http.ProblemAsync(typo, 422, "urn:agentry:problem:eval-suite-invalid"))["detail"]!.ToString());

        // Readable, but about an agent that does not exist.
        var unknownAgent = await app.Client.PostAsJsonAsync("/v1/evals/suites", new { yaml = "suite: x\ncases:\n  - id: one\n    agent: nobody\n    turns:\n      - user: hi\n" });
        Assert.Contains("there is no agent 'nobody'", (await Http.ProblemAsync(unknownAgent, 422, "urn:agentry:problem:eval-suite-invalid"))["detail"]!.ToString());

        // A run that cannot start says why, and starts nothing.
        var unknownSuite = await app.Client.PostAsJsonAsync("/v1/evals/runs", new { suites = new[] { "missing" } });
        Assert.Contains("There is no suite 'missing'", (await Http.ProblemAsync(unknownSuite, 422, "urn:agentry:problem:eval-suite-invalid"))["detail"]!.ToString());
        var unknownModel = await app.Client.PostAsJsonAsync("/v1/evals/runs", new { suites = new[] { "help-desk" }, models = new[] { "nowhere/model" } });
        Assert.Contains("--model nowhere/model", (await Http.ProblemAsync(unknownModel, 422, "urn:agentry:problem:eval-suite-invalid"))["detail"]!.ToString());
        var noBaseline = await app.Client.PostAsJsonAsync("/v1/evals/runs", new { suites = new[] { "help-desk" }, baseline = "latest" });
        Assert.Contains("no finished run", (await Http.ProblemAsync(noBaseline, 422, "urn:agentry:problem:eval-suite-invalid"))["detail"]!.ToString());
        await Http.ProblemAsync(await app.Client.PostAsJsonAsync("/v1/evals/runs", new { repeat = 0 }), 400, "urn:agentry:problem:validation-failed");
        Assert.Empty((await Http.JsonAsync(await app.Client.GetAsync("/v1/evals/runs")))["data"]!.AsArray());
        await Http.ProblemAsync(await app.Client.GetAsync("/v1/evals/runs/eval_missing"), 404, "urn:agentry:problem:eval-run-not-found");

        // The shipped suite is listed from its file.
        var suites = await Http.JsonAsync(await app.Client.GetAsync("/v1/evals/suites"));
        var helpDesk = suites["suites"]!.AsArray().Single(s => (string?)s!["id"] == "help-desk")!;
        Assert.Equal("help-desk.yaml", (string?)helpDesk["source"]);
        Assert.True((int)helpDesk["cases"]! >= 12);
        await Http.ProblemAsync(await app.Client.PostAsJsonAsync("/v1/evals/suites", new { yaml = "suite: help-desk\ncases:\n  - id: one\n    turns:\n      - user: hi\n" }),
            409, "urn:agentry:problem:conflict");
    }

    [Fact]
    public async Task A_real_conversation_becomes_a_draft_case_that_a_suite_accepts()
    {
        await using var app = new AgentryApp();
        var turn = await Http.JsonAsync(await app.Client.PostAsJsonAsync("/v1/chat",
            new { agentId = "billing", userId = "customer-42", message = "/tool refund {\"amount\": 250, \"reason\": \"charged twice\"}" }));
        var conversationId = (string)turn["conversationId"]!;

        var draft = await Http.JsonAsync(await app.Client.PostAsync($"/v1/evals/cases/from-conversation/{conversationId}", null));
        var yaml = (string)draft["yaml"]!;
        Assert.Contains("agent: billing", yaml);
        Assert.Contains("approval: pending", yaml);
        Assert.Contains("rule: [{ id: refund-limit, action: require-approval }]", yaml);
        Assert.DoesNotContain("customer-42", yaml); // the real user's id stays out of a suite file

        var suite = "suite: drafted\ncases:\n" + string.Join("\n", yaml.Split('\n').Where(l => !l.StartsWith('#')).Select(l => "  " + l));
        var saved = await app.Client.PostAsJsonAsync("/v1/evals/suites", new { yaml = suite });
        await Http.ExpectAsync(saved, HttpStatusCode.Created);

        await Http.ProblemAsync(await app.Client.PostAsync("/v1/evals/cases/from-conversation/conv_missing", null), 404, "urn:agentry:problem:conversation-not-found");
    }
}
