using System.Net;
using System.Net.Http.Headers;
using Agentry.Api;

namespace Agentry.Tests.WebConsole;

/// <summary>
/// How the console's files are served: to a browser at /, without a key (they hold no data), under a policy that allows
/// only the service's own script and stylesheet, revalidated cheaply; an API client at / still gets a problem.
/// </summary>
public sealed class ConsoleServingTests
{
    [Fact]
    public async Task A_browser_gets_the_console_under_a_strict_policy_and_an_api_client_gets_a_problem()
    {
        await using var app = new AgentryApp();
        using var anonymous = app.CreateApiClient(null);
        var request = new HttpRequestMessage(HttpMethod.Get, "/");
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/html"));
        var page = await anonymous.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
        var html = await page.Content.ReadAsStringAsync();
        Assert.Contains("<script type=\"module\" src=\"/console/console.js\"></script>", html);
        Assert.DoesNotContain("<script>", html); // no inline script: the policy would refuse it
        var policy = page.Headers.GetValues("Content-Security-Policy").Single();
        Assert.Contains("script-src 'self';", policy);
        Assert.Contains("style-src 'self';", policy);
        Assert.Contains("connect-src 'self';", policy);
        Assert.DoesNotContain("unsafe", policy);
        Assert.Contains("frame-ancestors 'none'", policy);

        var script = await anonymous.GetAsync("/console/console.js");
        Assert.Equal(HttpStatusCode.OK, script.StatusCode);
        Assert.Equal("text/javascript", script.Content.Headers.ContentType?.MediaType);
        Assert.Equal("no-cache", script.Headers.CacheControl?.ToString());
        var again = new HttpRequestMessage(HttpMethod.Get, "/console/console.js");
        again.Headers.IfNoneMatch.Add(script.Headers.ETag!);
        Assert.Equal(HttpStatusCode.NotModified, (await anonymous.SendAsync(again)).StatusCode);

        await Http.ProblemAsync(await anonymous.GetAsync("/console/secrets.txt"), 404, ProblemTypes.NotFound);
        await Http.ProblemAsync(await anonymous.GetAsync("/console/..%2Fappsettings.json"), 404, ProblemTypes.NotFound);
        await Http.ProblemAsync(await anonymous.GetAsync("/"), 404, ProblemTypes.NotFound); // an API client asking for JSON
    }

    [Fact]
    public async Task The_console_asks_the_api_who_the_key_is_and_a_bad_key_is_a_problem()
    {
        await using var app = new AgentryApp();
        var (id, secret) = await app.CreateKeyAsync("widget", ["chat"]);
        var me = await Http.JsonAsync(await app.CreateApiClient(secret).GetAsync("/v1/me"));
        Assert.Equal(id, (string?)me["id"]);
        Assert.Equal("widget", (string?)me["name"]);
        Assert.Equal(["chat"], me["scopes"]!.AsArray().Select(s => (string)s!));
        Assert.DoesNotContain(secret, me.ToJsonString());
        await Http.ProblemAsync(await app.CreateApiClient("agk_not-a-real-key-000000000000").GetAsync("/v1/me"), 401, ProblemTypes.Unauthorized);
    }
}
