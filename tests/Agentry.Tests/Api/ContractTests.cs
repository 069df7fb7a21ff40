using System.Text.Json.Nodes;

namespace Agentry.Tests.Api;

/// <summary>
/// The served OpenAPI document as a contract. Every response in the test suite is checked against it by
/// <see cref="ContractCheckingHandler"/>; these tests check the document itself and that the checker can fail.
/// </summary>
public sealed class ContractTests
{
    [Fact]
    public async Task Every_operation_has_a_summary_and_declares_its_failures_as_problems()
    {
        await using var app = new AgentryApp();
        var document = JsonNode.Parse(await app.CreateApiClient(null).GetStringAsync("/openapi/v1.json"))!;
        var problems = new List<string>();
        var operations = 0;
        foreach (var (path, item) in document["paths"]!.AsObject())
            foreach (var (method, operation) in item!.AsObject())
            {
                operations++;
                var name = $"{method.ToUpperInvariant()} {path}";
                if (string.IsNullOrWhiteSpace((string?)operation!["summary"])) problems.Add($"{name}: no summary");
                var responses = operation["responses"]!.AsObject();
                var anonymous = operation["security"] is JsonArray { Count: 0 };
                foreach (var status in anonymous ? Array.Empty<string>() : ["401", "403"])
                    if (!responses.ContainsKey(status)) problems.Add($"{name}: {status} not declared");
                // The OpenAI-compatible doors answer failures in OpenAI's error shape, which its SDKs read.
                var openAi = path is "/v1/chat/completions" || path.StartsWith("/v1/models", StringComparison.Ordinal) || path.StartsWith("/v1/responses", StringComparison.Ordinal);
                var (mediaType, schema) = openAi ? ("application/json", "#/components/schemas/OpenAiError") : ("application/problem+json", "#/components/schemas/Problem");
                foreach (var (status, response) in responses)
                    if (status.StartsWith('4') || status.StartsWith('5'))
                        if (response!["content"]?[mediaType]?["schema"]?["$ref"]?.ToString() != schema && path.StartsWith("/v1", StringComparison.Ordinal))
                            problems.Add($"{name}: {status} is not {(openAi ? "an OpenAI error" : "a problem")}");
            }
        Assert.True(operations >= 32, $"{operations} operations");
        Assert.DoesNotContain("\"pattern\"", document.ToJsonString()); // numbers are numbers, not "integer or string"
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    [Fact]
    public async Task Optional_request_fields_are_not_required()
    {
        await using var app = new AgentryApp();
        var schemas = JsonNode.Parse(await app.CreateApiClient(null).GetStringAsync("/openapi/v1.json"))!["components"]!["schemas"]!;
        string[] Required(string schema) => schemas[schema]!["required"]?.AsArray().Select(r => (string)r!).ToArray() ?? [];
        Assert.Equal(["message"], Required("ChatRequest"));
        Assert.Equal(["agentId"], Required("CreateConversationRequest"));
        Assert.Equal(["name", "scopes"], Required("CreateKeyRequest"));
        Assert.Empty(Required("ApprovalDecision"));
        Assert.Contains("traceId", schemas["Problem"]!["required"]!.AsArray().Select(r => (string)r!));
    }

    [Fact]
    public async Task The_checker_refuses_an_undeclared_status_an_undeclared_type_and_a_wrong_shape()
    {
        await using var app = new AgentryApp();
        var contract = await app.ContractAsync();
        Assert.Null(contract.Check("GET", "/v1/agents/support", 404, "application/problem+json",
            """{"type":"urn:agentry:problem:agent-not-found","title":"t","status":404,"detail":"d","traceId":"x"}"""));
        Assert.Contains("not declared", contract.Check("GET", "/v1/agents/support", 418, null, null));
        Assert.Contains("content type", contract.Check("GET", "/v1/agents/support", 200, "text/html", "<p>hi</p>"));
        Assert.Contains("does not match", contract.Check("GET", "/v1/agents/support", 404, "application/problem+json", """{"type":"x","status":"404"}"""));
        Assert.Contains("does not match", contract.Check("GET", "/v1/conversations", 200, "application/json", """{"data":[{"id":1}],"nextCursor":null}"""));
    }
}
