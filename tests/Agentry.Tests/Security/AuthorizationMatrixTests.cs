using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Agentry.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Agentry.Tests.Security;

/// <summary>
/// Walks every operation in the OpenAPI document with no key, a wrong key, a revoked key, an expired key and a key
/// of each scope. An operation missing from <see cref="Allowed"/> fails the test, so a new endpoint cannot ship
/// without a decision about who may call it.
/// </summary>
public sealed class AuthorizationMatrixTests
{
    /// <summary>Operation id → the scopes that may call it (admin always may).</summary>
    static readonly Dictionary<string, string[]> Allowed = new()
    {
        ["ListAgents"] = ["read", "agents:write"],
        ["GetAgent"] = ["read", "agents:write"],
        ["CreateAgent"] = ["agents:write"],
        ["PutAgent"] = ["agents:write"],
        ["DeleteAgent"] = ["agents:write"],
        ["ReloadAgents"] = ["agents:write"],
        ["ListTools"] = ["read", "agents:write"],
        ["TestRules"] = ["read", "agents:write"],
        ["CheckAgentYaml"] = ["read", "agents:write"],
        ["GetAgentYaml"] = ["read", "agents:write"],
        ["ListAgentVersions"] = ["read", "agents:write"],
        ["GetAgentVersion"] = ["read", "agents:write"],
        ["RestoreAgentVersion"] = ["agents:write"],
        // Evals spend model tokens and change what the team relies on: running and writing need agents:write.
        ["StartEvalRun"] = ["agents:write"],
        ["ListEvalRuns"] = ["read", "agents:write"],
        ["GetEvalRun"] = ["read", "agents:write"],
        ["ListEvalSuites"] = ["read", "agents:write"],
        ["GetEvalSuite"] = ["read", "agents:write"],
        ["SaveEvalSuite"] = ["agents:write"],
        ["DeleteEvalSuite"] = ["agents:write"],
        ["DraftEvalCase"] = ["chat", "read"],
        // Who am I: any valid key (the console signs in with it).
        ["GetCurrentKey"] = ["read", "chat", "agents:write", "knowledge:write", "metrics"],
        ["GetProductionReadiness"] = [],
        ["ListApprovals"] = [],
        ["GetApproval"] = [],
        ["ApproveToolCall"] = [],
        ["RejectToolCall"] = [],
        ["ListErrors"] = [],
        ["QueryAnalytics"] = [],
        ["SystemHealth"] = [],
        ["CreateConversation"] = ["chat"],
        ["ListConversations"] = ["chat", "read"],
        ["GetConversation"] = ["chat", "read"],
        ["DeleteConversation"] = ["chat"],
        ["ListMessages"] = ["chat", "read"],
        ["GetConversationContext"] = ["chat", "read"],
        ["PostMessage"] = ["chat"],
        ["Chat"] = ["chat"],
        ["ResumeTurnEvents"] = ["chat", "read"],
        // The OpenAI-compatible doors: a key that may chat.
        ["ListModels"] = ["chat"],
        ["GetModel"] = ["chat"],
        ["CreateChatCompletion"] = ["chat"],
        ["CreateResponse"] = ["chat"],
        ["GetResponse"] = ["chat"],
        ["DeleteResponse"] = ["chat"],
        ["CancelResponse"] = ["chat"],
        ["ListResponseInputItems"] = ["chat"],
        ["CreateKey"] = [],
        ["ListKeys"] = [],
        ["RevokeKey"] = [],
        ["RotateKey"] = [],
        ["QueryAudit"] = [],
        ["VerifyAudit"] = [],
        ["DetailedHealth"] = [],
        ["ListBackups"] = [],
        ["CreateBackup"] = [],
        ["ExportUserData"] = [],
        ["Metrics"] = ["metrics"],
        ["ListMcpServers"] = [],
        ["GetMcpServer"] = [],
        ["AddMcpServer"] = [],
        ["RemoveMcpServer"] = [],
        ["ApproveMcpTools"] = [],
        ["ListKnowledgeBases"] = ["read", "agents:write", "knowledge:write"],
        ["RemoveKnowledgeBase"] = ["knowledge:write"],
        ["ListKnowledgeDocuments"] = ["read", "agents:write", "knowledge:write"],
        ["AddKnowledgeDocument"] = ["knowledge:write"],
        ["GetKnowledgeDocument"] = ["read", "agents:write", "knowledge:write"],
        ["ReplaceKnowledgeDocument"] = ["knowledge:write"],
        ["RemoveKnowledgeDocument"] = ["knowledge:write"],
        ["SearchKnowledge"] = ["read", "agents:write", "knowledge:write"],
        // A user's data: the scope lets a key in; who owns the user decides the rest (404 to others, LongTermMemoryTests).
        ["ListMemories"] = ["chat", "read"],
        ["AddMemory"] = ["chat"],
        ["DeleteMemory"] = ["chat"],
        ["ForgetUser"] = ["chat"],
    };

    /// <summary>Probes a load balancer calls without a key.</summary>
    static readonly HashSet<string> Anonymous = ["Liveness", "Readiness"];

    [Fact]
    public async Task Every_operation_answers_as_its_scopes_say()
    {
        // No trusted network: /metrics needs a key like every other protected operation.
        await using var app = new AgentryApp(settings: new() { ["Observability:MetricsAllowedNetworks:0"] = "none" });
        var conversation = (string)(await app.CreateConversationAsync())["id"]!;
        var keys = new Dictionary<string, string>
        {
            ["admin"] = AgentryApp.AdminKey,
            ["agents:write"] = (await app.CreateKeyAsync("w", ["agents:write"])).Secret,
            ["chat"] = (await app.CreateKeyAsync("c", ["chat"])).Secret,
            ["read"] = (await app.CreateKeyAsync("r", ["read"])).Secret,
            ["metrics"] = (await app.CreateKeyAsync("m", ["metrics"])).Secret, // may scrape, and may call no API operation
        };
        var (revokedId, revoked) = await app.CreateKeyAsync("revoked", ["admin"]);
        await app.Client.DeleteAsync($"/v1/admin/keys/{revokedId}");
        var (expiredId, expired) = await app.CreateKeyAsync("expired", ["admin"]);
        await using (var scope = app.Services.CreateAsyncScope())
            await scope.ServiceProvider.GetRequiredService<AgentryDbContext>().ApiKeys.Where(k => k.Id == expiredId)
                .ExecuteUpdateAsync(s => s.SetProperty(k => k.ExpiresAt, DateTimeOffset.UtcNow.AddMinutes(-1)));
        await app.Service<Agentry.Security.ApiKeyStore>().InvalidateAsync();

        var document = JsonNode.Parse(await app.Client.GetStringAsync("/openapi/v1.json"))!;
        var operations = new List<(string Method, string Path, string Id)>();
        foreach (var (path, item) in document["paths"]!.AsObject())
            foreach (var (method, operation) in item!.AsObject())
                if (method is "get" or "post" or "put" or "delete")
                    operations.Add((method.ToUpperInvariant(), path, (string)operation!["operationId"]!));

        Assert.Equal(Allowed.Keys.Concat(Anonymous).Order(), operations.Select(o => o.Id).Order()); // every operation has a row, every row an operation

        var failures = new List<string>();
        foreach (var (method, template, id) in operations)
        {
            if (Anonymous.Contains(id))
            {
                if (await SendAsync(app, method, template, null) is not (HttpStatusCode.OK or HttpStatusCode.ServiceUnavailable))
                    failures.Add($"{method} {template} without a key: refused, expected a probe answer");
                continue;
            }
            var path = template.Replace("{agentId}", "concierge").Replace("{conversationId}", conversation).Replace("{keyId}", "key_matrix").Replace("{approvalId}", "apr_matrix")
                .Replace("{version}", "1").Replace("{runId}", "eval_matrix").Replace("{suiteId}", "matrix");
            foreach (var (caller, secret) in new (string, string?)[] { ("no key", null), ("wrong key", "agk_wrong-wrong-wrong-wrong-wrong-wrong-0"), ("revoked key", revoked), ("expired key", expired) })
            {
                var status = await SendAsync(app, method, path, secret, id);
                if (status != HttpStatusCode.Unauthorized) failures.Add($"{method} {template} with {caller}: {(int)status}, expected 401");
            }
            foreach (var (scope, secret) in keys)
            {
                var status = await SendAsync(app, method, path, secret, id);
                var allowed = scope == "admin" || Allowed[id].Contains(scope);
                if (allowed && status is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
                    failures.Add($"{method} {template} with {scope}: {(int)status}, expected access");
                if (!allowed && status != HttpStatusCode.Forbidden)
                    failures.Add($"{method} {template} with {scope}: {(int)status}, expected 403");
            }
        }
        Assert.True(failures.Count == 0, string.Join(Environment.NewLine, failures));
    }

    [Fact]
    public async Task Metrics_are_scraped_with_a_metrics_key_that_can_do_nothing_else()
    {
        // "none": no network is trusted, as behind a reverse proxy where every client looks local.
        await using var app = new AgentryApp(settings: new() { ["Observability:MetricsAllowedNetworks:0"] = "none" });
        var metrics = app.CreateApiClient((await app.CreateKeyAsync("prometheus", ["metrics"])).Secret);
        var chat = app.CreateApiClient((await app.CreateKeyAsync("widget", ["chat"])).Secret);
        Assert.Equal(HttpStatusCode.OK, (await metrics.GetAsync("/metrics")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await chat.GetAsync("/metrics")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await app.CreateApiClient(null).GetAsync("/metrics")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await metrics.GetAsync("/v1/agents")).StatusCode);
    }

    /// <summary>Bodies other than <c>{}</c>: an empty run request would run every suite (twice, for admin and agents:write); this one is refused after authorization.</summary>
    static readonly Dictionary<string, string> Bodies = new() { ["StartEvalRun"] = "{\"suites\": [\"no-such-suite\"]}" };

    static async Task<HttpStatusCode> SendAsync(AgentryApp app, string method, string path, string? secret, string? operation = null)
    {
        using var client = app.CreateApiClient(secret);
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        if (method is "POST" or "PUT") request.Content = new StringContent(Bodies.GetValueOrDefault(operation ?? "", "{}"), Encoding.UTF8, "application/json");
        using var response = await client.SendAsync(request);
        Assert.True((int)response.StatusCode < 500, $"{method} {path} answered {(int)response.StatusCode}");
        return response.StatusCode;
    }
}
