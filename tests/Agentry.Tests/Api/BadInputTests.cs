using System.Net.Http.Json;
using Agentry.Api;

namespace Agentry.Tests.Api;

/// <summary>Client mistakes that reached a converter or a binder: a 400 problem that names the field, never a 500 or a .NET type name.</summary>
public sealed class BadInputTests
{
    [Theory]
    [InlineData("2000-01-01T00:00:00+14:01")] // offset beyond ±14:00
    [InlineData("0001-01-01T00:00:00+01:00")] // before year 1 in UTC
    [InlineData("9999-12-31T23:59:59-01:00")] // after 9999 in UTC
    [InlineData("yesterday")]
    public async Task An_unrepresentable_timestamp_is_a_400_naming_the_field(string expiresAt)
    {
        await using var app = new AgentryApp();
        var response = await app.Client.PostAsJsonAsync("/v1/admin/keys", new { name = "k", scopes = new[] { "chat" }, expiresAt });
        var problem = await Http.ProblemAsync(response, 400, ProblemTypes.InvalidJson);
        Assert.Contains("expiresAt", problem["errors"]!.AsObject().Select(e => e.Key).Single());
    }

    [Fact]
    public async Task A_timestamp_that_is_not_a_string_is_a_400()
    {
        await using var app = new AgentryApp();
        var response = await app.Client.PostAsync("/v1/admin/keys", Http.RawJson("""{"name":"k","scopes":["chat"],"expiresAt":12}"""));
        await Http.ProblemAsync(response, 400, ProblemTypes.InvalidJson);
    }

    /// <summary>
    /// <c>null</c> where a value is required passes a <c>required</c> member's "present" check; it must still be a 400
    /// that names the field, not a NullReferenceException in validation (found by GeneratedRequestTests: a 500 for
    /// <c>"messages": null</c> on /v1/chat/completions).
    /// </summary>
    [Theory]
    [InlineData("/v1/chat/completions", """{"model":"support","messages":null}""", "messages")]
    [InlineData("/v1/chat/completions", """{"model":"support","messages":[null]}""", "messages")]
    [InlineData("/v1/chat/completions", """{"model":null,"messages":[{"role":"user","content":"hi"}]}""", "model")]
    [InlineData("/v1/chat/completions", """{"model":"support","messages":[{"role":null,"content":"hi"}]}""", "role")]
    [InlineData("/v1/chat/completions", """{"model":"support","messages":[{"role":"user","content":"hi"}],"tools":[null]}""", "tools")]
    [InlineData("/v1/chat/completions", """{"model":"support","messages":[{"role":"user","content":"hi"}],"metadata":{"a":null}}""", "metadata")]
    [InlineData("/v1/responses", """{"model":"support","input":"hi","metadata":{"a":null}}""", "metadata")]
    [InlineData("/v1/responses", """{"model":"support","input":[null]}""", "input")]
    [InlineData("/v1/chat", """{"message":null}""", "message")]
    [InlineData("/v1/admin/keys", """{"name":"k","scopes":null}""", "scopes")]
    [InlineData("/v1/admin/keys", """{"name":"k","scopes":[null]}""", "scopes")]
    public async Task Null_for_a_required_value_is_a_400_naming_the_field(string path, string body, string field)
    {
        await using var app = new AgentryApp();
        var response = await app.Client.PostAsync(path, Http.RawJson(body));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == System.Net.HttpStatusCode.BadRequest, $"{(int)response.StatusCode}: {text}");
        var named = System.Text.Json.Nodes.JsonNode.Parse(text)!;
        // The OpenAI door answers in OpenAI's error shape (error.param); the rest of the API in problem+json (errors).
        var fields = named["error"] is { } error ? [(string?)error["param"] ?? ""] : named["errors"]!.AsObject().Select(e => e.Key).ToArray();
        Assert.True(fields.Any(f => f.Contains(field, StringComparison.OrdinalIgnoreCase)), text);
    }

    /// <summary>The rule is for what clients send: a reply holding a null where its type says none (a row stored before
    /// a field existed) is still written, as null, instead of failing the response.</summary>
    [Fact]
    public void Null_is_refused_on_the_way_in_and_still_written_on_the_way_out()
    {
        var options = new System.Text.Json.JsonSerializerOptions();
        ApiExtensions.ConfigureJson(options);
        Assert.Equal("""{"name":null,"tags":["a"]}""", System.Text.Json.JsonSerializer.Serialize(new Named(null!, ["a"]), options));
        Assert.Throws<System.Text.Json.JsonException>(() => System.Text.Json.JsonSerializer.Deserialize<Named>("""{"name":null,"tags":[]}""", options));
        Assert.Throws<NoNullElements.NullItemException>(() => System.Text.Json.JsonSerializer.Deserialize<Named>("""{"name":"n","tags":[null]}""", options));
        Assert.Equal("n", System.Text.Json.JsonSerializer.Deserialize<Named>("""{"name":"n","tags":["t"]}""", options)!.Name);
    }

    public sealed record Named(string Name, List<string> Tags);

    [Theory]
    [InlineData("/v1/conversations?limit=abc", "limit")]
    [InlineData("/v1/admin/audit?from=0001-01-01T00:00:00%2B01:00", "from")]
    [InlineData("/v1/admin/analytics?from=31-01-2026", "from")]
    public async Task A_query_parameter_of_the_wrong_type_is_a_400_without_dotnet_type_names(string path, string parameter)
    {
        await using var app = new AgentryApp();
        var response = await app.Client.GetAsync(path);
        var body = await response.Content.ReadAsStringAsync();
        var problem = await Http.ProblemAsync(response, 400, ProblemTypes.ValidationFailed);
        Assert.True(problem["errors"]![parameter] is not null, body);
        Assert.DoesNotContain("int?", body);
        Assert.DoesNotContain("Nullable", body);
        Assert.DoesNotContain("DateTimeOffset", body);
        Assert.DoesNotContain("DateOnly", body);
    }
}
