using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using Agentry.Api;

namespace Agentry.Tests.Api;

/// <summary>Small mistakes a new user met on the way.</summary>
public sealed class SmallContractTests
{
    [Fact]
    public async Task Put_takes_the_agent_id_from_the_path_without_repeating_it_in_the_body()
    {
        await using var app = new AgentryApp();
        var created = await app.Client.PutAsJsonAsync("/v1/agents/triage", new { name = "Triage" });
        await Http.ExpectAsync(created, HttpStatusCode.Created);
        Assert.Equal("triage", (string?)(await Http.JsonAsync(created))["id"]);
        await Http.ProblemAsync(await app.Client.PutAsJsonAsync("/v1/agents/triage", new { id = "other", name = "Triage" }), 400, ProblemTypes.ValidationFailed);
        await Http.ProblemAsync(await app.Client.PostAsJsonAsync("/v1/agents", new { name = "No id" }), 400, ProblemTypes.ValidationFailed);
    }

    [Fact]
    public async Task The_nul_character_is_a_400_naming_where_it_was_on_every_database()
    {
        // PostgreSQL cannot store U+0000 in text; found by the request fuzzer on the PostgreSQL pass as a 500.
        await using var app = new AgentryApp();
        var key = await Http.ProblemAsync(await app.Client.PostAsync("/v1/admin/keys", Http.RawJson("""{"name":"\u0000","scopes":["read"]}""")), 400, ProblemTypes.InvalidJson);
        Assert.Contains("$.name", key.ToJsonString());
        await Http.ProblemAsync(await app.Client.PostAsync("/v1/chat", Http.RawJson("""{"message":"hi\u0000there"}""")), 400, ProblemTypes.InvalidJson);
        await Http.ProblemAsync(await app.Client.PostAsync("/v1/conversations", Http.RawJson("""{"metadata":{"\u0000":"x"}}""")), 400, ProblemTypes.InvalidJson);
        Assert.Equal(HttpStatusCode.BadRequest, (await app.Client.GetAsync("/v1/conversations/conv%00x")).StatusCode); // Kestrel refuses it first
        await Http.ProblemAsync(await app.Client.GetAsync("/v1/conversations?cursor=%00"), 400, ProblemTypes.BadRequest);
        Assert.DoesNotContain((await Http.JsonAsync(await app.Client.GetAsync("/v1/admin/keys")))["data"]!.AsArray(), k => ((string?)k!["name"])?.Contains('\0') == true);
    }

    [Fact]
    public async Task An_unknown_error_kind_filter_is_a_400_like_an_unknown_groupBy()
    {
        await using var app = new AgentryApp();
        var problem = await Http.ProblemAsync(await app.Client.GetAsync("/v1/admin/errors?kind=everything"), 400, ProblemTypes.ValidationFailed);
        Assert.Contains("exception", (string?)problem["errors"]!["kind"]![0]);
        Assert.Equal(HttpStatusCode.OK, (await app.Client.GetAsync("/v1/admin/errors?kind=upstream")).StatusCode);
    }

    [Fact]
    public async Task The_reference_page_loads_nothing_from_outside_and_hides_the_developer_toolbar()
    {
        await using var app = new AgentryApp();
        var html = await app.CreateApiClient(null).GetStringAsync("/docs");
        Assert.Contains("\"withDefaultFonts\":false", html.Replace(" ", ""));
        Assert.Contains("\"showDeveloperTools\":\"never\"", html.Replace(" ", ""));
        Assert.DoesNotContain("fonts.scalar.com", html);
        Assert.DoesNotContain("cdn.jsdelivr.net", html);
    }
}
