using System.Net;
using System.Net.Http.Json;
using Agentry.Api;

namespace Agentry.Tests.Agents;

public sealed class PersonalityTests
{
    [Fact]
    public async Task A_conversation_may_override_what_the_agent_allows_and_nothing_else()
    {
        await using var openAi = new FakeOpenAiServer();
        await using var app = new AgentryApp(openAi);
        var created = await app.Client.PostAsJsonAsync("/v1/conversations", new
        {
            agentId = "concierge", personality = new { language = "German", greeting = "Hallo, ich bin Ada. Wie kann ich helfen?" },
        });
        await Http.ExpectAsync(created, HttpStatusCode.Created);
        var conversation = await Http.JsonAsync(created);
        Assert.Equal("Hallo, ich bin Ada. Wie kann ich helfen?", (string?)conversation["greeting"]);

        // "Hallo" scores low against every specialist, so the concierge itself answers, with the overridden personality.
        await app.SendAsync((string)conversation["id"]!, "Hallo");
        var prompt = FakeRequest.Text(openAi.Requests.Single().Messages[0]);
        Assert.Contains("- Language: always answer in German", prompt);
        Assert.Contains("- Greeting: \"Hallo, ich bin Ada. Wie kann ich helfen?\"", prompt);
        Assert.Contains("- Tone: warm and welcoming", prompt); // not overridden: the agent's own

        var refused = await Http.ProblemAsync(await app.Client.PostAsJsonAsync("/v1/conversations", new
        {
            agentId = "concierge", personality = new { role = "a pirate", avoid = new[] { "x" } },
        }), 400, ProblemTypes.ValidationFailed);
        Assert.Equal(["personality.avoid", "personality.role"], refused["errors"]!.AsObject().Select(e => e.Key).Order().ToArray());
        await Http.ProblemAsync(await app.Client.PostAsJsonAsync("/v1/conversations", new { agentId = "billing", personality = new { tone = "silly" } }),
            400, ProblemTypes.ValidationFailed); // billing allows no overrides
    }

    [Fact]
    public async Task Agents_without_a_greeting_open_conversations_silently()
    {
        await using var app = new AgentryApp();
        var conversation = await app.CreateConversationAsync("support");
        Assert.Null(conversation["greeting"]);
        Assert.Equal(0, (int)conversation["messageCount"]!);
    }
}
