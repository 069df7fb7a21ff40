using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using CsCheck;
using Xunit.Abstractions;

namespace Agentry.Tests.Api;

/// <summary>
/// Requests generated from the served document's own schemas, for every operation: parameters and bodies that follow
/// the schema, and ones bent out of it (a wrong type, a value out of range, a required field missing, an unknown
/// one). Whatever comes, the service answers without a 5xx and as the document says (every response passes through
/// <see cref="ContractCheckingHandler"/>).
/// </summary>
public sealed class GeneratedRequestTests(ITestOutputHelper output)
{
    const int RequestsPerOperation = 30;

    [Fact]
    public async Task Every_operation_answers_generated_requests_without_5xx_and_as_documented()
    {
        await using var app = new AgentryApp();
        var client = app.Client;
        var document = JsonNode.Parse(await client.GetStringAsync("/openapi/v1.json"))!;
        var known = new Dictionary<string, string[]>
        {
            ["agentId"] = ["support", "billing", "concierge", "plan-advice"],
            ["conversationId"] = [(string)(await app.CreateConversationAsync())["id"]!],
        };
        var operations = (from path in document["paths"]!.AsObject()
                          from operation in path.Value!.AsObject()
                          select (Path: path.Key, Method: operation.Key.ToUpperInvariant(), Operation: operation.Value!)).ToList();

        var statuses = new SortedDictionary<int, int>();
        var sent = 0;
        var due = 0;
        foreach (var (path, method, operation) in operations)
        {
            // An operation with nothing to generate (no parameter, no body) gets the same request every time, so once
            // covers it: 30 identical backups were three quarters of this test's time on PostgreSQL (a pg_dump each).
            var requests = (operation["parameters"]?.AsArray().Count ?? 0) == 0 && operation["requestBody"] is null ? 1 : RequestsPerOperation;
            due += requests;
            // Seeds drive a hand-written generator over the schema; CsCheck samples them and names the seed of a failure.
            await Gen.ULong.SampleAsync(async seed =>
            {
                var request = new Generator(document, new Random(unchecked((int)seed)), known).Request(method, path, operation);
                using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
                lock (statuses)
                {
                    statuses[(int)response.StatusCode] = statuses.GetValueOrDefault((int)response.StatusCode) + 1;
                    sent++;
                }
                Assert.True((int)response.StatusCode < 500, $"{method} {request.RequestUri} answered {(int)response.StatusCode}");
            }, iter: requests, threads: 1);
        }
        output.WriteLine($"{sent} generated requests over {operations.Count} operations; statuses: {string.Join(", ", statuses.Select(s => $"{s.Key}×{s.Value}"))}");
        Assert.Equal(due, sent);
    }

    /// <summary>Builds one request from an operation's parameters and body schema, following it or bending it.</summary>
    sealed class Generator(JsonNode document, Random random, Dictionary<string, string[]> known)
    {
        bool Bend => random.Next(4) == 0; // one decision in four goes outside the schema

        public HttpRequestMessage Request(string method, string template, JsonNode operation)
        {
            var path = template;
            var query = new List<string>();
            foreach (var parameter in operation["parameters"]?.AsArray() ?? [])
            {
                var name = (string)parameter!["name"]!;
                var value = Scalar(Resolve(parameter["schema"]), name);
                if ((string?)parameter["in"] == "path") path = path.Replace("{" + name + "}", Uri.EscapeDataString(value ?? "x"), StringComparison.Ordinal);
                else if (value is not null && random.Next(3) > 0) query.Add($"{name}={Uri.EscapeDataString(value)}");
            }
            var request = new HttpRequestMessage(new HttpMethod(method), path + (query.Count > 0 ? "?" + string.Join('&', query) : ""));
            if (operation["requestBody"]?["content"]?["application/json"]?["schema"] is { } schema)
            {
                var body = random.Next(12) == 0 ? "{\"broken\": " : Value(schema, depth: 0)?.ToJsonString() ?? "null";
                request.Content = new StringContent(body, Encoding.UTF8, "application/json");
            }
            return request;
        }

        JsonNode? Resolve(JsonNode? schema) =>
            schema?["$ref"] is { } reference ? Resolve(document["components"]!["schemas"]![((string)reference!).Split('/')[^1]]) : schema;

        string? Scalar(JsonNode? schema, string name)
        {
            if (known.TryGetValue(name, out var values) && !Bend) return values[random.Next(values.Length)];
            var value = Value(schema, depth: 3);
            var text = value switch
            {
                null => null,
                JsonValue v when v.TryGetValue(out string? s) => s,
                _ => value.ToJsonString().Trim('"'),
            };
            // Parameters stay within what a URL carries (Kestrel answers 414 for more, before any operation sees it).
            return text is { Length: > 1_000 } ? text[..1_000] : text;
        }

        JsonNode? Value(JsonNode? schema, int depth)
        {
            schema = Resolve(schema);
            if (schema is null || depth > 4) return null;
            if (schema["anyOf"] is JsonArray anyOf) return Value(anyOf[random.Next(anyOf.Count)], depth);
            if (schema["oneOf"] is JsonArray oneOf) return Value(oneOf[random.Next(oneOf.Count)], depth);
            if (Bend) return Wrong();
            var types = schema["type"] switch
            {
                JsonArray many => many.Select(t => (string)t!).ToArray(),
                JsonValue one => [(string)one!],
                _ => ["object"],
            };
            if (schema["enum"] is JsonArray choices) return choices[random.Next(choices.Count)]?.DeepClone();
            return types[random.Next(types.Length)] switch
            {
                "null" => null,
                "boolean" => JsonValue.Create(random.Next(2) == 0),
                "integer" => JsonValue.Create(Integer(schema)),
                "number" => JsonValue.Create(random.NextDouble() * 1000),
                "string" => JsonValue.Create(Text(schema)),
                "array" => new JsonArray(Enumerable.Range(0, random.Next(4)).Select(_ => Value(schema["items"], depth + 1)).ToArray()),
                _ => Object(schema, depth),
            };
        }

        JsonObject Object(JsonNode schema, int depth)
        {
            var result = new JsonObject();
            var required = schema["required"]?.AsArray().Select(r => (string)r!).ToHashSet() ?? [];
            foreach (var (name, property) in schema["properties"]?.AsObject() ?? [])
                if (required.Contains(name) ? !Bend : random.Next(2) == 0) result[name] = Value(property, depth + 1);
            if (Bend) result["unexpected" + random.Next(100)] = JsonValue.Create("x");
            return result;
        }

        long Integer(JsonNode schema)
        {
            var min = schema["minimum"] is { } low ? (long)(double)low : -5;
            var max = schema["maximum"] is { } high ? (long)(double)high : 1000;
            return random.Next(5) == 0 ? random.NextInt64(-10, 100_000) : random.NextInt64(min, max + 1);
        }

        string Text(JsonNode schema)
        {
            if ((string?)schema["format"] == "date-time") return DateTimeOffset.UtcNow.AddDays(random.Next(-400, 400)).ToString("O");
            string[] samples = ["support", "billing", "hello there", "chat", "read", "admin", "/tool calculator {\"expression\":\"1+2\"}", "", "💥", "a/b", "conv_123"];
            return random.Next(3) == 0 ? new string((char)random.Next('a', 'z' + 1), random.Next(0, 300)) : samples[random.Next(samples.Length)];
        }

        JsonNode? Wrong() => random.Next(6) switch
        {
            0 => null,
            1 => JsonValue.Create(random.Next()),
            2 => JsonValue.Create("not what was asked"),
            3 => new JsonArray(JsonValue.Create(1)),
            4 => new JsonObject { ["nested"] = JsonValue.Create(true) },
            _ => JsonValue.Create(new string('x', random.Next(1, 70_000))),
        };
    }
}
