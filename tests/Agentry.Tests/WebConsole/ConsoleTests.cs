using System.Text.RegularExpressions;
using Microsoft.Playwright;

namespace Agentry.Tests.WebConsole;

/// <summary>
/// The console in a real browser (Debian's Chromium through Playwright), against the real service with its sample
/// agents and the offline model: what a support lead, an operator and a first-time user do, on a desktop and a phone.
/// </summary>
public sealed class ConsoleTests(ConsoleBrowser browser) : IClassFixture<ConsoleBrowser>
{
    static string Origin(AgentryApp app) => app.Client.BaseAddress!.GetLeftPart(UriPartial.Authority);

    [Fact]
    public async Task A_chat_streams_with_the_handoff_and_a_cited_answer_shown_as_they_happen()
    {
        await using var app = new AgentryApp();
        await Knowledge.KnowledgeFiles.ShippedHelpCenterAsync(app);
        await using var console = await browser.OpenAsync(Origin(app));
        await console.SignInAsync(AgentryApp.AdminKey);
        await console.Page.GetByRole(AriaRole.Heading, new() { Name = "Playground" }).WaitForAsync();
        await console.AssertAccessibleAndCleanAsync("sign-in and playground");

        var page = console.Page;
        await page.GetByLabel("Agent or workflow").SelectOptionAsync("concierge");
        await page.GetByLabel("User id (optional: memory follows it)").FillAsync("alice");
        await page.GetByRole(AriaRole.Button, new() { Name = "New conversation" }).ClickAsync();
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
}
