using System.Net.Http.Json;
using Agentry.Agents;
using Agentry.Data;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace Agentry.Tests.Agents;

public sealed class SemanticRoutingTests(ITestOutputHelper output)
{
    /// <summary>Held-out utterances (none is one of the concierge's examples) and where they belong; null = the concierge keeps it.</summary>
    public static readonly (string Utterance, string? Expected)[] HeldOut =
    [
        ("My card was billed two times for the same order", "billing"),
        ("You took money from my account twice this month", "billing"),
        ("I need my money back for last month", "billing"),
        ("Please send me the invoice for March", "billing"),
        ("The amount on my bill is wrong", "billing"),
        ("How can I change the payment method on file?", "billing"),
        ("I was overcharged on my last statement", "billing"),
        ("Can you cancel the duplicate payment?", "billing"),
        ("Where can I download my billing history?", "billing"),
        ("My bank shows a charge from you I did not make", "billing"),
        ("Refund the extra charge please", "billing"),
        ("Why did my subscription fee go up?", "billing"),
        ("The login page keeps saying my password is wrong", "support"),
        ("Your mobile app freezes on startup", "support"),
        ("I see error 500 when uploading a file", "support"),
        ("The dashboard is blank after the update", "support"),
        ("Two-factor codes are not arriving", "support"),
        ("My files are not syncing between devices", "support"),
        ("The export button does nothing", "support"),
        ("I am locked out of my account", "support"),
        ("Notifications stopped working on Android", "support"),
        ("The page times out every time I search", "support"),
        ("Something is broken, the app won't start", "support"),
        ("I keep getting logged out", "support"),
        ("What is the price of the Enterprise plan?", "sales"),
        ("Can we try the product before buying?", "sales"),
        ("We have 40 employees, which plan should we choose?", "sales"),
        ("Is there a discount if we pay yearly?", "sales"),
        ("I want to move from Starter to Team", "sales"),
        ("How many users does the Starter plan allow?", "sales"),
        ("Can I get a quote for 200 seats?", "sales"),
        ("What features come with the Team plan?", "sales"),
        ("Do you have special pricing for schools?", "sales"),
        ("I'd like to buy more licenses", "sales"),
        ("Compare your plans for me", "sales"),
        ("How much would it cost for my whole team?", "sales"),
        ("Hello", null),
        ("Good morning!", null),
        ("Thanks, that's all", null),
        ("Who are you?", null),
        ("Hi there, how are you today?", null),
        ("Bye", null),
    ];

    [Fact]
    public async Task Routing_accuracy_on_held_out_help_desk_utterances()
    {
        await using var app = new AgentryApp();
        var router = app.Service<SemanticRouter>();
        await using var scope = app.Services.CreateAsyncScope();
        var catalog = scope.ServiceProvider.GetRequiredService<AgentCatalog>();
        var concierge = (await catalog.FindAsync("concierge", default))!.Definition;
        var targets = new List<AgentDefinition>();
        foreach (var id in concierge.Handoffs) targets.Add((await catalog.FindAsync(id, default))!.Definition);

        var right = 0;
        var misses = new List<string>();
        foreach (var (utterance, expected) in HeldOut)
        {
            var route = await router.RouteAsync(concierge, utterance, targets, default);
            output.WriteLine($"{route.Score:0.00} {route.Target ?? "-",-8} {expected ?? "-",-8} {utterance}");
            if (route.Target == expected) right++;
            else misses.Add($"'{utterance}' → {route.Target ?? "concierge"} (expected {expected ?? "concierge"}; {route.Reason})");
        }
        var accuracy = (double)right / HeldOut.Length;
        output.WriteLine($"Semantic routing: {right}/{HeldOut.Length} = {accuracy:P1}");
        foreach (var miss in misses) output.WriteLine("  miss: " + miss);
        Assert.True(HeldOut.Length >= 40);
        Assert.True(accuracy >= 0.9, $"accuracy {accuracy:P1}; misses:\n{string.Join("\n", misses)}");
    }

    [Fact]
    public async Task Offline_concierge_routes_a_double_charge_to_billing_which_redacts_the_card_number()
    {
        await using var app = new AgentryApp();
        var turn = await Http.JsonAsync(await app.Client.PostAsJsonAsync("/v1/chat",
            new { message = "I was charged twice, my card is 4111 1111 1111 1111" }));

        Assert.Equal("billing", (string?)turn["agentId"]);
        Assert.Equal("offline", (string?)turn["model"]);
        var messages = turn["messages"]!.AsArray();
        Assert.Equal(["user", "handoff", "assistant"], messages.Select(m => (string)m!["role"]!).ToArray());
        Assert.Equal("I was charged twice, my card is [redacted card]", (string?)messages[0]!["content"]);
        var rule = messages[0]!["metadata"]!["rules"]!.AsArray().Single()!;
        Assert.Equal("no-card-numbers", (string?)rule["rule"]);
        Assert.Equal("redact", (string?)rule["action"]);
        Assert.Equal("semantic", (string?)messages[1]!["metadata"]!["mode"]);
        Assert.DoesNotContain("4111 1111", turn.ToJsonString());

        var stored = await app.MessagesAsync((string)turn["conversationId"]!);
        Assert.DoesNotContain("4111 1111", stored.ToJsonString()); // never stored either
    }

    [Fact]
    public async Task A_greeting_stays_with_the_concierge()
    {
        await using var app = new AgentryApp();
        var turn = await Http.JsonAsync(await app.Client.PostAsJsonAsync("/v1/chat", new { message = "Hello" }));
        Assert.Equal("concierge", (string?)turn["agentId"]);
        Assert.Equal(["user", "assistant"], turn["messages"]!.AsArray().Select(m => (string)m!["role"]!).ToArray());
    }
}
