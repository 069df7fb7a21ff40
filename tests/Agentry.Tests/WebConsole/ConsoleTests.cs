using System.Net.Http.Json;
using System.Text.RegularExpressions;
using Microsoft.Playwright;

namespace Agentry.Tests.WebConsole;

/// <summary>
/// The console in a real browser (Debian's Chromium through Playwright), against the real service with its sample
/// agents and the offline model: what a support lead, an operator and a first-time user do, on a desktop and a phone.
/// </summary>
[Trait("Surface", "browser")] // what a browser shows does not change with the database: not repeated in the PostgreSQL pass
public sealed class ConsoleTests(ConsoleBrowser browser) : IClassFixture<ConsoleBrowser>
{
    [Fact]
    public async Task A_chat_streams_with_the_handoff_and_a_cited_answer_shown_as_they_happen()
    {
        await using var app = new AgentryApp();
        await Knowledge.KnowledgeFiles.ShippedHelpCenterAsync(app);
        await using var console = await browser.SignedInAsync(app);
        await console.Page.GetByRole(AriaRole.Heading, new() { Name = "Playground" }).WaitForAsync();
        await console.AssertAccessibleAndCleanAsync("sign-in and playground");

        var page = console.Page;
        await page.GetByLabel("Agent or workflow").SelectOptionAsync("concierge");
        await page.GetByLabel("User id (optional: memory follows it)").FillAsync("alice");
        await page.GetByRole(AriaRole.Button, new() { Name = "New conversation" }).ClickAsync();
        await Assertions.Expect(page.Locator("#chat-title")).ToContainTextAsync("concierge · conv_");
        var transcript = page.GetByRole(AriaRole.List, new() { Name = "Conversation" });
        await Assertions.Expect(transcript).ToContainTextAsync("Ada"); // the concierge's greeting

        await page.GetByLabel("Message").FillAsync("Hi, I was charged twice this month");
        await page.GetByRole(AriaRole.Button, new() { Name = "Send" }).ClickAsync();
        await Assertions.Expect(transcript.Locator(".msg.handoff")).ToContainTextAsync("concierge → billing");
        await Assertions.Expect(transcript.Locator(".msg.assistant").Last).ToContainTextAsync("billing");
        await Assertions.Expect(transcript).ToContainTextAsync("in ·");

        // A question the help-center answers: the reply cites its source.
        await page.GetByLabel("Message").FillAsync("How do I reset my router?");
        await page.GetByRole(AriaRole.Button, new() { Name = "Send" }).ClickAsync();
        await Assertions.Expect(transcript.GetByRole(AriaRole.List, new() { Name = "Sources" }).Last).ToContainTextAsync("troubleshooting/reset-hub.md");
        await console.ScreenshotAsync("playground");
        await console.AssertAccessibleAndCleanAsync("playground after a turn");

        // Reopened from the list, the stored conversation shows the same.
        await page.ReloadAsync();
        await page.GetByRole(AriaRole.List).Filter(new() { Has = page.GetByText("alice") }).First.WaitForAsync();
        await page.Locator("#conversation-list button").First.ClickAsync();
        await Assertions.Expect(transcript.Locator(".msg.handoff")).ToContainTextAsync("billing");
        await Assertions.Expect(transcript.GetByRole(AriaRole.List, new() { Name = "Sources" }).Last).ToContainTextAsync("reset-hub.md");
    }

    [Fact]
    public async Task A_refund_above_the_limit_waits_in_the_approvals_inbox_and_once_approved_the_conversation_shows_the_refund()
    {
        await using var app = new AgentryApp();
        await using var console = await browser.SignedInAsync(app);
        var page = console.Page;
        await page.GetByLabel("Agent or workflow").SelectOptionAsync("billing");
        await page.GetByRole(AriaRole.Button, new() { Name = "New conversation" }).ClickAsync();
        await Assertions.Expect(page.Locator("#chat-title")).ToContainTextAsync("billing · conv_");
        await page.GetByLabel("Message").FillAsync("/tool refund {\"amount\": 250, \"reason\": \"double charge\"}");
        await page.GetByRole(AriaRole.Button, new() { Name = "Send" }).ClickAsync();
        var transcript = page.GetByRole(AriaRole.List, new() { Name = "Conversation" });
        await Assertions.Expect(transcript.Locator(".msg.approval")).ToContainTextAsync("refund");

        // The badge says something waits; the inbox shows the arguments and the rule that held them.
        await page.ReloadAsync();
        await page.GetByLabel("Status").SelectOptionAsync("pending_approval");
        await page.GetByRole(AriaRole.Button, new() { Name = "Filter" }).ClickAsync();
        await Assertions.Expect(page.Locator("#conversation-list button")).ToHaveCountAsync(1);
        await Assertions.Expect(page.Locator("#approvals-badge")).ToHaveTextAsync("1");
        await console.GoAsync("Approvals");
        var card = page.GetByRole(AriaRole.Region).Filter(new() { HasText = "refund · billing" });
        await Assertions.Expect(card.GetByLabel("Arguments")).ToContainTextAsync("250");
        await console.ScreenshotAsync("approvals");
        await console.AssertAccessibleAndCleanAsync("approvals");
        await card.GetByText("The conversation around it").ClickAsync();
        await Assertions.Expect(card.GetByRole(AriaRole.List, new() { Name = "The conversation before it" })).ToContainTextAsync("/tool refund");
        await card.GetByLabel("Reason (kept in the audit log)").FillAsync("verified the double charge");
        await card.GetByRole(AriaRole.Button, new() { Name = "Approve" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Approved: refund" })).ToBeVisibleAsync();
        await Assertions.Expect(page.Locator(".msg.tool").Last).ToContainTextAsync("Refund");
        await Assertions.Expect(page.Locator("#approvals-badge")).ToBeHiddenAsync();

        // The conversation, reopened in the playground, has the tool's result and billing's answer.
        await console.GoAsync("Playground");
        await page.Locator("#conversation-list button").First.ClickAsync();
        await Assertions.Expect(transcript.Locator(".msg.tool").Last).ToContainTextAsync("Refund");
        await Wait.UntilAsync(async () => (await Http.JsonAsync(await app.Client.GetAsync("/v1/admin/audit?action=approval.approved")))["data"]!.ToJsonString()
            .Contains("verified the double charge", StringComparison.Ordinal), TimeSpan.FromSeconds(30), because: "the decision and its reason are in the audit log");
    }

    [Fact]
    public async Task A_key_is_created_its_secret_is_copied_once_and_the_dashboard_and_readiness_render_with_data()
    {
        await using var app = new AgentryApp();
        // A few turns, so the dashboard has something to draw.
        for (var i = 0; i < 3; i++) await app.Client.PostAsync("/v1/chat", Http.RawJson($$"""{"message":"Hello number {{i}}","agentId":"support"}"""));
        await using var console = await browser.SignedInAsync(app);
        var page = console.Page;

        await console.GoAsync("Keys");
        await page.GetByLabel("Name").FillAsync("support-widget");
        await page.GetByRole(AriaRole.Checkbox, new() { Name = "chat" }).CheckAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Create key" }).ClickAsync();
        var secret = (await page.Locator("#secret-value").TextContentAsync())!;
        Assert.StartsWith("agk_", secret);
        await page.GetByRole(AriaRole.Button, new() { Name = "Copy" }).ClickAsync();
        Assert.Equal(secret, await page.EvaluateAsync<string>("navigator.clipboard.readText()"));
        await console.ScreenshotAsync("keys");
        await console.AssertAccessibleAndCleanAsync("keys");
        await page.GetByRole(AriaRole.Button, new() { Name = "I have stored it" }).ClickAsync();
        await Assertions.Expect(page.Locator("#secret-value")).ToHaveCountAsync(0);
        await Assertions.Expect(page.GetByRole(AriaRole.Table)).ToContainTextAsync("support-widget");
        await page.ReloadAsync();
        Assert.DoesNotContain(secret, await page.ContentAsync()); // shown once: the list has its prefix only
        var created = await Http.JsonAsync(await app.CreateApiClient(secret).GetAsync("/v1/me"));
        Assert.Equal("support-widget", (string?)created["name"]);

        await console.GoAsync("Dashboard");
        var turns = page.Locator(".card").Filter(new() { HasTextRegex = new System.Text.RegularExpressions.Regex("^Turns, last hour") }).Locator(".figure");
        await Assertions.Expect(turns).ToHaveTextAsync(new System.Text.RegularExpressions.Regex("^[1-9]"));
        var bars = page.GetByRole(AriaRole.Img, new() { Name = "Turns per minute" }).Locator("rect.s1");
        Assert.Equal(60, await bars.CountAsync());
        var heights = await bars.EvaluateAllAsync<double[]>("bars => bars.map(b => b.getBBox().height)");
        Assert.Contains(heights, height => height > 10);
        await Assertions.Expect(page.GetByRole(AriaRole.Img, new() { Name = "Tokens by agent" })).ToHaveAttributeAsync("aria-label", new System.Text.RegularExpressions.Regex("support"));
        await console.ScreenshotAsync("dashboard");
        await console.AssertAccessibleAndCleanAsync("dashboard");

        await console.GoAsync("Readiness");
        await Assertions.Expect(page.Locator(".score")).ToHaveTextAsync(new System.Text.RegularExpressions.Regex(@"^\d+/100$"));
        await Assertions.Expect(page.GetByText("Fix: Set OPENAI_API_KEY", new() { Exact = false })).ToBeVisibleAsync();
        await console.ScreenshotAsync("readiness");
        await console.AssertAccessibleAndCleanAsync("readiness");
        foreach (var other in new[] { "Agents", "Knowledge", "MCP servers", "Audit log" })
        {
            await console.GoAsync(other);
            await page.WaitForLoadStateAsync(LoadState.NetworkIdle);
            await console.AssertAccessibleAndCleanAsync(other);
        }
    }

    [Fact]
    public async Task On_a_phone_in_the_dark_theme_a_chat_key_sees_only_the_playground_and_nothing_overflows()
    {
        await using var app = new AgentryApp();
        var (_, chat) = await app.CreateKeyAsync("phone", ["chat"]);
        await using var console = await browser.SignedInAsync(app, chat, width: 390, height: 844, scheme: ColorScheme.Dark);
        var page = console.Page;
        Assert.Equal(["Playground"], await page.GetByRole(AriaRole.Navigation).GetByRole(AriaRole.Link).AllTextContentsAsync());
        await page.GetByLabel("Agent or workflow").SelectOptionAsync("support");
        await page.GetByRole(AriaRole.Button, new() { Name = "New conversation" }).ClickAsync();
        await Assertions.Expect(page.Locator("#chat-title")).ToContainTextAsync("support · conv_");
        await page.GetByLabel("Message").FillAsync("Hello from my phone");
        await page.GetByLabel("Message").PressAsync("Enter");
        await Assertions.Expect(page.GetByRole(AriaRole.List, new() { Name = "Conversation" }).Locator(".msg.assistant").Last).ToContainTextAsync("support");
        var wider = await page.EvaluateAsync<string[]>("[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > window.innerWidth + 1).map(e => e.tagName + '.' + e.className + '#' + e.id)");
        Assert.True(await page.EvaluateAsync<bool>("document.documentElement.scrollWidth <= window.innerWidth"), $"nothing is wider than the phone's screen: {string.Join(", ", wider)}");
        Assert.Equal("rgb(15, 18, 22)", await page.EvaluateAsync<string>("getComputedStyle(document.body).backgroundColor")); // the dark theme
        await console.ScreenshotAsync("playground-phone-dark");
        await console.AssertAccessibleAndCleanAsync("phone, dark");

        // An admin page asked for by its address is not offered, and the API refuses it anyway.
        await page.GotoAsync("/#/keys");
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Level = 1 })).ToHaveTextAsync("Playground");
        await console.Page.GetByRole(AriaRole.Button, new() { Name = "Sign out" }).ClickAsync();
        await Assertions.Expect(page.GetByLabel("API key")).ToBeVisibleAsync();
        Assert.Null(await page.EvaluateAsync<string?>("sessionStorage.getItem('agentry.key')"));
    }

    [Fact]
    public async Task An_eval_run_started_in_the_console_shows_its_report_and_an_agent_is_restored_from_its_versions()
    {
        await using var app = new AgentryApp();
        await Knowledge.KnowledgeFiles.ShippedHelpCenterAsync(app);
        await app.Client.PutAsJsonAsync("/v1/agents/vera", new { name = "Vera", description = "Versioned", instructions = "Be kind.", model = "offline" });
        await app.Client.PutAsJsonAsync("/v1/agents/vera", new { name = "Vera", description = "Versioned", instructions = "Be brief.", model = "offline" });
        await using var console = await browser.SignedInAsync(app);
        var page = console.Page;

        await console.GoAsync("Evals");
        await page.GetByRole(AriaRole.Button, new() { Name = "Run help-desk" }).ClickAsync();
        await Assertions.Expect(page.Locator("td .status.passed").First).ToBeVisibleAsync(new() { Timeout = 60_000 });
        await page.GetByRole(AriaRole.Button, new() { NameRegex = new Regex("^Report of eval_") }).First.ClickAsync();
        var report = page.Locator("#eval-report");
        await Assertions.Expect(report).ToContainTextAsync("refund-above-policy-waits-for-a-supervisor");
        await Assertions.Expect(report).ToContainTextAsync("approval: pending");
        await Assertions.Expect(report.Locator(".status.skipped").First).ToBeVisibleAsync(); // judged, without a judge model
        await console.ScreenshotAsync("evals");
        await console.AssertAccessibleAndCleanAsync("eval report");

        await console.GoAsync("Agents");
        await page.GetByRole(AriaRole.Button, new() { Name = "View vera" }).ClickAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Diff of version 2" }).ClickAsync();
        await Assertions.Expect(page.Locator("pre.diff .added")).ToContainTextAsync("Be brief.");
        await Assertions.Expect(page.Locator("pre.diff .removed")).ToContainTextAsync("Be kind.");
        await console.ScreenshotAsync("agent-versions");
        await console.AssertAccessibleAndCleanAsync("agent versions");
        await page.GetByRole(AriaRole.Button, new() { Name = "Restore version 1" }).ClickAsync();
        await Assertions.Expect(page.Locator("#toast")).ToContainTextAsync("Restored version 1 of vera.");
        Assert.Equal("Be kind.", (string?)(await Http.JsonAsync(await app.Client.GetAsync("/v1/agents/vera")))["instructions"]);
        await Assertions.Expect(page.GetByText("3 (current)")).ToBeVisibleAsync();
    }

    [Fact]
    public async Task An_agent_yaml_error_is_shown_at_its_line_and_choosing_it_selects_that_line()
    {
        await using var app = new AgentryApp();
        await using var console = await browser.SignedInAsync(app);
        var page = console.Page;
        await console.GoAsync("Agents");
        await page.GetByRole(AriaRole.Button, new() { Name = "View support" }).ClickAsync();
        var editor = page.GetByLabel("Definition (YAML)");
        var yaml = await editor.InputValueAsync();
        var line = Array.FindIndex(yaml.Split('\n'), l => l.StartsWith("temperature:", StringComparison.Ordinal)) + 1;
        Assert.True(line > 1, yaml);
        await editor.FillAsync(Regex.Replace(yaml, "(?m)^temperature: .*$", "temperature: 7"));
        await page.GetByRole(AriaRole.Button, new() { Name = "Check" }).ClickAsync();
        var problem = page.Locator($"#agent-problems button[data-line='{line}']");
        await Assertions.Expect(problem).ToContainTextAsync("temperature");
        await problem.ClickAsync();
        Assert.Equal("temperature: 7", await editor.EvaluateAsync<string>("e => e.value.substring(e.selectionStart, e.selectionEnd)"));
        // A file defines this agent: the console checks it but says where to change it, and does not offer to save.
        await Assertions.Expect(page.GetByText("Defined in support.yaml")).ToBeVisibleAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Button, new() { Name = "Save" })).ToHaveCountAsync(0);
        await console.ScreenshotAsync("agent-editor");
        await console.AssertAccessibleAndCleanAsync("agent editor");

        // A new agent (or an imported file) is written as YAML, checked and saved through the API.
        await page.GetByRole(AriaRole.Button, new() { Name = "New agent" }).ClickAsync();
        await editor.FillAsync("id: night-desk\nname: Nora\ndescription: Answers at night.\ninstructions: |\n  Be brief; say when the day team is back.\ntemperature: 0.3\n");
        await page.GetByRole(AriaRole.Button, new() { Name = "Save" }).ClickAsync();
        await Assertions.Expect(page.Locator("#agent-problems")).ToContainTextAsync("Saved night-desk.");
        var saved = await Http.JsonAsync(await app.Client.GetAsync("/v1/agents/night-desk"));
        Assert.Equal("Nora", (string?)saved["name"]);
        Assert.Equal("api", (string?)saved["source"]);
    }

    [Fact]
    public async Task A_knowledge_base_shows_its_documents_their_passages_and_a_search()
    {
        await using var app = new AgentryApp();
        await Knowledge.KnowledgeFiles.ShippedHelpCenterAsync(app);
        await using var console = await browser.SignedInAsync(app);
        var page = console.Page;
        await console.GoAsync("Knowledge");
        await page.GetByRole(AriaRole.Button, new() { Name = "Open help-center" }).ClickAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "passages of troubleshooting/reset-hub.md" }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Passages of troubleshooting/reset-hub.md" })).ToBeVisibleAsync();
        await page.GetByLabel("Try a search").FillAsync("my router needs a factory reset");
        await page.GetByRole(AriaRole.Button, new() { Name = "Search" }).ClickAsync();
        await Assertions.Expect(page.Locator("form .panel strong").First).ToContainTextAsync("troubleshooting/reset-hub.md");
        await console.AssertAccessibleAndCleanAsync("knowledge");
    }
}
