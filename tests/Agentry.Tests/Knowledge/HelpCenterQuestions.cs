namespace Agentry.Tests.Knowledge;

/// <summary>
/// The retrieval set for the shipped help-center (src/Agentry/agent-definitions/knowledge/help-center): questions as
/// customers ask them — most paraphrased, sharing few words with the article — each with the document and section that
/// answers it (null section: any section of that document), and questions the help-center cannot answer, off its topic
/// and on it.
/// </summary>
public static class HelpCenterQuestions
{
    public sealed record Answerable(string Question, string Document, string? Section);

    public static readonly Answerable[] Answerables =
    [
        new("What comes in the box with the Northwind Hub?", "getting-started/hub-setup.md", "What is in the box"),
        new("I lost the card with the wifi password, where else can I find it?", "getting-started/hub-setup.md", "What is in the box"),
        new("How do I connect the router to the wall socket?", "getting-started/hub-setup.md", "Connecting the Hub"),
        new("Which port does the cable from the wall go into?", "getting-started/hub-setup.md", "Connecting the Hub"),
        new("The light on my hub is orange, what does that mean?", "getting-started/hub-setup.md", "What the lights mean"),
        new("Is it safe to unplug the box while the light is flashing white?", "getting-started/hub-setup.md", "What the lights mean"),
        new("How do I reset my router?", "troubleshooting/reset-hub.md", "Factory reset"),
        new("How long do I have to hold the reset button?", "troubleshooting/reset-hub.md", "Factory reset"),
        new("My connection keeps dropping, should I turn the hub off and on again?", "troubleshooting/reset-hub.md", "Restarting the Hub"),
        new("Will rebooting the router wipe my settings?", "troubleshooting/reset-hub.md", "Restarting the Hub"),
        new("After the factory reset, how do I set my own wifi password again?", "troubleshooting/reset-hub.md", "After a reset"),
        new("What is the address of the hub's admin page?", "troubleshooting/reset-hub.md", "After a reset"),
        new("Why is my wifi so slow?", "troubleshooting/slow-wifi.md", null),
        new("Where should I put the router to get the best signal?", "troubleshooting/slow-wifi.md", "Check where the Hub stands"),
        new("What's the difference between the 2.4 and 5 GHz networks?", "troubleshooting/slow-wifi.md", "2.4 GHz or 5 GHz"),
        new("How do I install the latest software on the hub?", "troubleshooting/slow-wifi.md", "Update the firmware"),
        new("How can I tell whether the line itself is slow or just the wireless?", "troubleshooting/slow-wifi.md", "Test the line"),
        new("What does error E-1042 mean?", "troubleshooting/error-codes.md", "E-1042: sync conflict"),
        new("The app logged me out and says my session expired", "troubleshooting/error-codes.md", "E-1001: session expired"),
        new("We ran out of space for our files, what now?", "troubleshooting/error-codes.md", "E-1017: storage full"),
        new("I forgot my password", "account/password-reset.md", "Forgot your password"),
        new("How long is the password reset link valid?", "account/password-reset.md", "Forgot your password"),
        new("I typed the wrong password too often and now I can't get in", "account/password-reset.md", "Locked account"),
        new("How do I change my password?", "account/password-reset.md", "Changing your password"),
        new("How do I turn on two-factor authentication?", "account/two-factor.md", "Turning it on"),
        new("I got a new phone and my authenticator codes are gone", "account/two-factor.md", "Lost or new phone"),
        new("What are the backup codes for?", "account/two-factor.md", "Backup codes"),
        new("How do I add a colleague to our team?", "account/team-members.md", "Inviting someone"),
        new("What can an admin do that a normal member can't?", "account/team-members.md", "Roles"),
        new("What happens to someone's files when I remove them from the team?", "account/team-members.md", "Removing someone"),
        new("Where can I download my invoices?", "billing/invoices.md", "Downloading invoices"),
        new("How do I get our VAT number on the invoice?", "billing/invoices.md", "Company details and VAT"),
        new("On which day of the month am I billed?", "billing/invoices.md", "When you are invoiced"),
        new("Can I get my money back?", "billing/refunds.md", "Refund policy"),
        new("I was charged twice for the same invoice", "billing/refunds.md", "Double charges"),
        new("How long does it take before a refund shows up on my card?", "billing/refunds.md", "How long a refund takes"),
        new("Do you accept American Express?", "billing/payment-methods.md", "Accepted methods"),
        new("How do I update my credit card?", "billing/payment-methods.md", "Changing the card"),
        new("What happens if my payment doesn't go through?", "billing/payment-methods.md", "Failed payments"),
        new("How much does the Team plan cost?", "plans/plans-and-pricing.md", "The plans"),
        new("Can I try it before paying?", "plans/plans-and-pricing.md", "Free trial"),
        new("What happens if we upgrade in the middle of the month?", "plans/plans-and-pricing.md", "Changing plans"),
        new("How do I cancel my subscription?", "plans/cancel.md", "How to cancel"),
        new("What happens to our files after we stop paying?", "plans/cancel.md", "What happens to your data"),
        new("Can we get our old team back after cancelling?", "plans/cancel.md", "Coming back"),
        new("In which country are our files kept?", "security/data-privacy.md", "Where your data is stored"),
        new("Is my data encrypted?", "security/data-privacy.md", "Encryption"),
        new("How do I ask you to delete my personal data?", "security/data-privacy.md", "Your rights under the GDPR"),
        new("Is there an app for Android?", "getting-started/mobile-app.md", "Installing"),
        new("Can I edit files on my phone without internet?", "getting-started/mobile-app.md", "Working offline"),
        new("How do I stop the phone app from buzzing all the time?", "getting-started/mobile-app.md", "Notifications"),
    ];

    /// <summary>Questions nothing in the help-center answers: the agent must say it does not know rather than guess.</summary>
    public static readonly string[] OffTopic =
    [
        "Who won the Nobel Prize in physics last year?",
        "What will the weather be like tomorrow?",
        "Can you recommend a good pizza place nearby?",
        "How do I bake sourdough bread?",
        "What was the score of last night's football game?",
        "Write me a poem about the sea.",
        "What is the capital of Australia?",
        "How many calories are in a banana?",
    ];

    /// <summary>On the help-center's topics, but not answered by it: retrieval finds related passages, so only the agent can tell.</summary>
    public static readonly string[] OnTopicUnanswerable =
    [
        "Who is the CEO of Northwind?",
        "Does Northwind have an office in Tokyo?",
        "Do you give discounts to charities?",
        "What is your stock price today?",
    ];
}
