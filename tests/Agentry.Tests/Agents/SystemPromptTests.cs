using Agentry.Agents;

namespace Agentry.Tests.Agents;

public sealed class SystemPromptTests
{
    static AgentDefinition Demo(string id)
    {
        var folder = Path.Combine(AppContext.BaseDirectory, "agent-definitions");
        var set = AgentFiles.Load(folder, _ => true);
        Assert.Empty(set.Errors);
        return set.Agents[id].Definition;
    }

    [Fact]
    public void Concierge_prompt_is_pinned()
    {
        const string expected = """
            You are Ada, the concierge of Northwind Help Desk.
            Front-desk concierge of Northwind Help Desk. Greets customers and routes them to support, sales or billing.

            ## Instructions
            Find out what the customer needs in as few questions as possible.
            Technical problems go to support, questions about plans, prices and upgrades go to sales,
            and anything about invoices, charges, refunds or payment methods goes to billing.
            If the request is unclear, ask one short clarifying question.

            ## Personality
            - Tone: warm and welcoming
            - Style: short sentences, one question at a time
            - Traits: attentive, patient, upbeat
            - Language: always answer in the user's language
            - Greeting: "Hi, I'm Ada from Northwind. How can I help you today?"
            - Never say: "I don't know"; "That's not my job"

            ## Rules (always follow these)
            1. [no-account-changes] Never change accounts, plans or payments yourself; hand the customer to the right specialist instead.
            2. [no-personal-data] Never ask for passwords or full card numbers.

            ## Handoffs
            When another agent is better placed to help, transfer the conversation to one of: support, sales, billing.
            """;
        Assert.Equal(expected.ReplaceLineEndings("\n"), SystemPrompt.Compile(Demo("concierge")));
    }

    [Fact]
    public void Billing_prompt_carries_its_sign_off_and_rules()
    {
        var prompt = SystemPrompt.Compile(Demo("billing"));
        Assert.StartsWith("You are Ben, the billing specialist at Northwind.\n", prompt);
        Assert.Contains("- Sign-off: \"Thank you for your patience with this.\"", prompt);
        Assert.Contains("2. [refund-limit] Do not promise refunds above 100 USD; say that a supervisor must approve them.", prompt);
    }

    [Fact]
    public void Every_demo_agent_compiles_to_a_distinct_prompt_and_compiling_is_deterministic()
    {
        var prompts = new[] { "concierge", "support", "sales", "billing" }.Select(id => SystemPrompt.Compile(Demo(id))).ToList();
        Assert.Equal(4, prompts.Distinct().Count());
        Assert.Equal(prompts[0], SystemPrompt.Compile(Demo("concierge")));
    }

    [Fact]
    public void A_minimal_agent_has_no_empty_sections()
    {
        var prompt = SystemPrompt.Compile(new AgentDefinition { Id = "min", Name = "Min" });
        Assert.Equal("You are Min.", prompt);
    }
}
