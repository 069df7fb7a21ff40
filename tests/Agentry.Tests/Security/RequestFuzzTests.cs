using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using CsCheck;
using Microsoft.Data.Sqlite;

namespace Agentry.Tests.Security;

/// <summary>
/// Thousands of random and mutated bodies against every write endpoint: the service must never answer 5xx, and a
/// rejected request must leave every table exactly as it was.
/// </summary>
public sealed class RequestFuzzTests
{
    const int IterationsPerEndpoint = 400;

    static readonly Gen<JsonNode?> Scalar = Gen.OneOf<JsonNode?>(
        Gen.Const((JsonNode?)null),
        Gen.Bool.Select(b => (JsonNode?)JsonValue.Create(b)),
        Gen.Int.Select(i => (JsonNode?)JsonValue.Create(i)),
        Gen.Double.Where(d => double.IsFinite(d)).Select(d => (JsonNode?)JsonValue.Create(d)),
        Gen.String.Select(s => (JsonNode?)JsonValue.Create(s)),
        Gen.Char.AlphaNumeric.Array[0, 80].Select(c => (JsonNode?)JsonValue.Create(new string(c))),
        Gen.Int[0, 40_000].Select(n => (JsonNode?)JsonValue.Create(new string('x', n))),
        Gen.OneOf(Gen.Const("concierge"), Gen.Const("billing"), Gen.Const("-"), Gen.Const("UPPER"), Gen.Const("a/b"), Gen.Const("conv_123"), Gen.Const("\u0000"), Gen.Const("💥"))
            .Select(s => (JsonNode?)JsonValue.Create(s)));

    static readonly Gen<JsonNode?> Value = Gen.Frequency(
        (6, Scalar),
        (2, Scalar.Array[0, 5].Select(items => (JsonNode?)new JsonArray(items.Select(i => i?.DeepClone()).ToArray()))),
        (2, Gen.Select(Gen.Char.AlphaNumeric.Array[1, 10].Select(c => new string(c)).Array[0, 5], Scalar.Array[5],
            (keys, values) => (JsonNode?)ToObject(keys, values))),
        (1, Gen.Int[30, 60].Select(depth => JsonNode.Parse(new string('[', depth) + new string(']', depth)))));

    static JsonObject ToObject(string[] keys, JsonNode?[] values)
    {
        var o = new JsonObject();
        for (var i = 0; i < keys.Length; i++) o[keys[i]] = values[i]?.DeepClone();
        return o;
    }

    /// <summary>A valid body, then one mutation of it (or none), rendered as request text.</summary>
    static Gen<string> Bodies(JsonObject valid) => Gen.Frequency(
        (1, Gen.Const(valid.ToJsonString())),
        (4, Gen.Select(Gen.Int[0, valid.Count - 1], Value, (i, v) => Mutate(valid, o => o[o.ElementAt(i).Key] = v))),
        (2, Gen.Int[0, valid.Count - 1].Select(i => Mutate(valid, o => o.Remove(o.ElementAt(i).Key)))),
        (2, Gen.Select(Gen.Char.AlphaNumeric.Array[1, 12].Select(c => new string(c)), Value, (k, v) => Mutate(valid, o => o[k] = v))),
        (1, Value.Select(v => v?.ToJsonString() ?? "null")),
        (1, Gen.Int[0, valid.ToJsonString().Length - 1].Select(n => valid.ToJsonString()[..n])),
        (1, Gen.String.Select(s => s)),
        (1, Gen.Const(new string('{', 1) + "\"content\":\"" + new string('a', 1_100_000) + "\"}")));

    static string Mutate(JsonObject valid, Action<JsonObject> change)
    {
        var copy = (JsonObject)valid.DeepClone();
        change(copy);
        return copy.ToJsonString();
    }

    [Fact]
    public async Task Write_endpoints_never_fail_with_5xx_and_never_half_write()
    {
        await using var app = new AgentryApp();
        var conversation = (string)(await app.CreateConversationAsync())["id"]!;
        var database = app.DataDirectory;

        var endpoints = new (HttpMethod Method, string Path, JsonObject Valid)[]
        {
            (HttpMethod.Post, "/v1/agents", new JsonObject
            {
                ["id"] = "fuzz", ["name"] = "Fuzz", ["description"] = "d", ["instructions"] = "i", ["temperature"] = 0.5, ["maxOutputTokens"] = 100,
                ["personality"] = new JsonObject { ["tone"] = "calm", ["traits"] = new JsonArray("a") }, ["tools"] = new JsonArray("calculator"),
                ["handoffs"] = new JsonArray("billing"), ["rules"] = new JsonArray(new JsonObject { ["id"] = "r", ["description"] = "be nice" }),
            }),
            (HttpMethod.Put, "/v1/agents/fuzz-put", new JsonObject { ["id"] = "fuzz-put", ["name"] = "Fuzz", ["model"] = "offline", ["temperature"] = 1 }),
            (HttpMethod.Post, "/v1/conversations", new JsonObject { ["agentId"] = "concierge", ["userId"] = "u", ["title"] = "t", ["metadata"] = new JsonObject { ["k"] = 1 } }),
            (HttpMethod.Post, $"/v1/conversations/{conversation}/messages", new JsonObject { ["content"] = "hello", ["agentId"] = "billing", ["stream"] = false }),
            (HttpMethod.Post, "/v1/chat", new JsonObject { ["message"] = "hello", ["agentId"] = "sales", ["userId"] = "u", ["stream"] = false }),
            (HttpMethod.Post, "/v1/admin/keys", new JsonObject { ["name"] = "fuzz", ["scopes"] = new JsonArray("read"), ["requestsPerMinute"] = 10 }),
        };

        var total = 0;
        foreach (var (method, path, valid) in endpoints)
        {
            await Bodies(valid).SampleAsync(async body =>
            {
                var before = await CountRowsAsync(database);
                using var request = new HttpRequestMessage(method, path) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
                HttpResponseMessage response;
                try
                {
                    response = await app.Client.SendAsync(request);
                }
                catch (HttpRequestException) when (body.Length > 1024 * 1024)
                {
                    // Kestrel answers 413 as soon as it sees the Content-Length and closes the connection while the
                    // client is still sending, which the client reports as a broken pipe. Nothing may have been written.
                    Assert.Equal(before, await CountRowsAsync(database));
                    Interlocked.Increment(ref total);
                    return;
                }
                using var _ = response;
                var status = (int)response.StatusCode;
                var text = await response.Content.ReadAsStringAsync();
                Assert.True(status < 500, $"{method} {path} answered {status} to {Shorten(body)}: {text}");
                if (status >= 400)
                {
                    Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
                    Assert.Equal(before, await CountRowsAsync(database));
                }
                Interlocked.Increment(ref total);
            }, iter: IterationsPerEndpoint, threads: 1, print: Shorten);
        }
        Assert.True(total >= endpoints.Length * IterationsPerEndpoint);
    }

    static string Shorten(string body) => body.Length <= 300 ? body : body[..300] + $"…({body.Length} chars)";

    static async Task<string> CountRowsAsync(string folder) =>
        (string)(await TestDatabase.ScalarAsync(folder, "SELECT (SELECT count(*) FROM conversations) || '/' || (SELECT count(*) FROM messages) || '/' || " +
                                                      "(SELECT count(*) FROM agents) || '/' || (SELECT count(*) FROM api_keys)", readOnly: true))!;
}
