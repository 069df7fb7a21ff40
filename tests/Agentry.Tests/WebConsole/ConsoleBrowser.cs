using Deque.AxeCore.Commons;
using Deque.AxeCore.Playwright;
using Microsoft.Playwright;

namespace Agentry.Tests.WebConsole;

/// <summary>
/// Debian's Chromium, driven by Playwright for .NET through its executable path (browsers are never downloaded here),
/// once per test class. Each page a test opens records what the browser's console says, so a test can assert that the
/// content security policy refused nothing and no script failed.
/// </summary>
public sealed class ConsoleBrowser : IAsyncLifetime
{
    IPlaywright? _playwright;
    IBrowser? _browser;

    /// <summary>Where screenshots go: kept as test artefacts, and the source of docs/console/*.png.</summary>
    public static string Screenshots { get; } = Directory.CreateDirectory(Path.Combine(AppContext.BaseDirectory, "console-screenshots")).FullName;

    public async Task InitializeAsync()
    {
        _playwright = await Playwright.CreateAsync();
        // A turn's first use of the local embedding model, on a busy CI machine, can take longer than Playwright's 5 s.
        Assertions.SetDefaultExpectTimeout(30_000);
        _browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = Executable(),
            Headless = true,
            // Without these, Chromium's own background traffic is refused by this machine's closed network at every start.
            Args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        });
    }

    static string Executable() =>
        new[] { "/usr/bin/chromium", "/usr/bin/chromium-browser" }.FirstOrDefault(File.Exists)
        ?? throw new InvalidOperationException("Debian's chromium is not installed (scripts/install-test-dependencies.sh installs it).");

    /// <summary>A fresh browser context (its own session storage) at the given size, colour scheme and origin.</summary>
    public async Task<ConsolePage> OpenAsync(string origin, int width = 1280, int height = 900, ColorScheme scheme = ColorScheme.Light)
    {
        var context = await _browser!.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = origin, ViewportSize = new ViewportSize { Width = width, Height = height }, ColorScheme = scheme, Locale = "en-GB",
        });
        await context.GrantPermissionsAsync(["clipboard-read", "clipboard-write"], new BrowserContextGrantPermissionsOptions { Origin = origin });
        var page = await context.NewPageAsync();
        var console = new ConsolePage(context, page);
        page.Console += (_, message) => console.Messages.Add($"{message.Type}: {message.Text}");
        page.PageError += (_, error) => console.Messages.Add($"pageerror: {error}");
        return console;
    }

    /// <summary>The console of <paramref name="app"/> in a fresh context, signed in with <paramref name="key"/>.</summary>
    public async Task<ConsolePage> SignedInAsync(AgentryApp app, string key = AgentryApp.AdminKey, int width = 1280, int height = 900, ColorScheme scheme = ColorScheme.Light)
    {
        var console = await OpenAsync(app.Client.BaseAddress!.GetLeftPart(UriPartial.Authority), width, height, scheme);
        await console.SignInAsync(key);
        return console;
    }

    public async Task DisposeAsync()
    {
        if (_browser is not null) await _browser.DisposeAsync();
        _playwright?.Dispose();
    }
}

/// <summary>A page of the console in its own browser context, with what its console printed.</summary>
public sealed class ConsolePage(IBrowserContext context, IPage page) : IAsyncDisposable
{
    public IPage Page { get; } = page;
    public List<string> Messages { get; } = [];

    public async Task SignInAsync(string key)
    {
        await Page.GotoAsync("/");
        await Page.GetByLabel("API key").FillAsync(key);
        await Page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await Page.GetByRole(AriaRole.Button, new() { Name = "Sign out" }).WaitForAsync();
    }

    public async Task GoAsync(string page)
    {
        await Page.GetByRole(AriaRole.Navigation).GetByRole(AriaRole.Link, new() { Name = page }).ClickAsync();
        await Page.GetByRole(AriaRole.Heading, new() { Level = 1 }).WaitForAsync();
    }

    /// <summary>No serious or critical axe-core violation on the page as it is now, and nothing refused by the CSP or thrown by a script.</summary>
    public async Task AssertAccessibleAndCleanAsync(string name)
    {
        var result = await Page.RunAxe();
        var serious = result.Violations.Where(v => v.Impact is "serious" or "critical").ToList();
        Assert.True(serious.Count == 0, $"{name}: " + string.Join("\n", serious.Select(v => $"{v.Id} ({v.Impact}): {v.Help} — {string.Join(", ", v.Nodes.Take(3).Select(n => n.Html))}")));
        Assert.DoesNotContain(Messages, m => m.Contains("Content Security Policy", StringComparison.Ordinal) || m.StartsWith("pageerror", StringComparison.Ordinal));
    }

    public Task ScreenshotAsync(string name) =>
        Page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(ConsoleBrowser.Screenshots, name + ".png"), FullPage = true });

    public ValueTask DisposeAsync() => context.DisposeAsync();
}
