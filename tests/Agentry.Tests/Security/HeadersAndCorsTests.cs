using System.Net;

namespace Agentry.Tests.Security;

/// <summary>Headers are the web layer's, whatever the database: run once, not again on PostgreSQL.</summary>
[Trait("Database", "any")]
public sealed class HeadersAndCorsTests
{
    [Fact]
    public async Task Every_response_carries_the_security_headers()
    {
        await using var app = new AgentryApp();
        foreach (var response in new[] { await app.Client.GetAsync("/v1/agents"), await app.CreateApiClient(null).GetAsync("/v1/agents"), await app.Client.GetAsync("/nope") })
        {
            Assert.Equal("nosniff", response.Headers.GetValues("X-Content-Type-Options").Single());
            Assert.Equal("DENY", response.Headers.GetValues("X-Frame-Options").Single());
            Assert.Equal("no-referrer", response.Headers.GetValues("Referrer-Policy").Single());
            var csp = response.Headers.GetValues("Content-Security-Policy").Single();
            Assert.Contains("default-src 'none'", csp);
            Assert.Contains("frame-ancestors 'none'", csp);
            Assert.StartsWith("max-age=", response.Headers.GetValues("Strict-Transport-Security").Single());
            Assert.False(response.Headers.Contains("Server"));
        }
    }

    [Fact]
    public async Task The_docs_page_gets_a_strict_nonce_based_policy()
    {
        await using var app = new AgentryApp();
        var docs = await app.Client.GetAsync("/docs/");
        var csp = docs.Headers.GetValues("Content-Security-Policy").Single();
        var nonce = System.Text.RegularExpressions.Regex.Match(csp, "'nonce-([^']+)'").Groups[1].Value;
        Assert.NotEmpty(nonce);
        Assert.DoesNotContain("unsafe-eval", csp);
        Assert.DoesNotContain("script-src 'self' 'unsafe-inline'", csp);
        var html = await docs.Content.ReadAsStringAsync();
        var scripts = System.Text.RegularExpressions.Regex.Matches(html, "<script[^>]*>");
        Assert.NotEmpty(scripts);
        Assert.All(scripts, s => Assert.Contains($"nonce=\"{nonce}\"", s.Value));
    }

    [Fact]
    public async Task No_HSTS_in_Development()
    {
        await using var app = new AgentryApp(environment: "Development");
        Assert.False((await app.Client.GetAsync("/health/live")).Headers.Contains("Strict-Transport-Security"));
    }

    [Fact]
    public async Task Cross_origin_calls_are_refused_unless_the_origin_is_allowed()
    {
        await using var closed = new AgentryApp();
        var preflight = Preflight("https://evil.example");
        var refused = await closed.CreateApiClient(null).SendAsync(preflight);
        Assert.False(refused.Headers.Contains("Access-Control-Allow-Origin"));

        await using var open = new AgentryApp(settings: new() { ["Security:CorsAllowedOrigins:0"] = "https://app.example.com" });
        var allowed = await open.CreateApiClient(null).SendAsync(Preflight("https://app.example.com"));
        Assert.Equal(HttpStatusCode.NoContent, allowed.StatusCode);
        Assert.Equal("https://app.example.com", allowed.Headers.GetValues("Access-Control-Allow-Origin").Single());
        Assert.Contains("authorization", allowed.Headers.GetValues("Access-Control-Allow-Headers").Single(), StringComparison.OrdinalIgnoreCase);
        Assert.False(allowed.Headers.Contains("Access-Control-Allow-Credentials"));

        var other = await open.CreateApiClient(null).SendAsync(Preflight("https://evil.example"));
        Assert.False(other.Headers.Contains("Access-Control-Allow-Origin"));

        var actual = new HttpRequestMessage(HttpMethod.Get, "/v1/agents");
        actual.Headers.Add("Origin", "https://app.example.com");
        var response = await open.Client.SendAsync(actual);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("https://app.example.com", response.Headers.GetValues("Access-Control-Allow-Origin").Single());
        Assert.Contains("RateLimit", response.Headers.GetValues("Access-Control-Expose-Headers").Single());
    }

    [Fact]
    public async Task A_wildcard_origin_never_allows_credentials()
    {
        await using var app = new AgentryApp(settings: new() { ["Security:CorsAllowedOrigins:0"] = "*" });
        var response = await app.CreateApiClient(null).SendAsync(Preflight("https://anyone.example"));
        Assert.Equal("*", response.Headers.GetValues("Access-Control-Allow-Origin").Single());
        Assert.False(response.Headers.Contains("Access-Control-Allow-Credentials"));
    }

    static HttpRequestMessage Preflight(string origin)
    {
        var request = new HttpRequestMessage(HttpMethod.Options, "/v1/chat");
        request.Headers.Add("Origin", origin);
        request.Headers.Add("Access-Control-Request-Method", "POST");
        request.Headers.Add("Access-Control-Request-Headers", "authorization,content-type");
        return request;
    }
}
