using Agentry.Conversations.Context;

using Agentry.Operations;

namespace Agentry.Conversations;

public static class ConversationsExtensions
{
    public static IHostApplicationBuilder AddConversations(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<ConversationOptions>().BindSettings(ConversationOptions.Section).ValidateOnStart();
        builder.Services.AddSingleton<ConversationGate>();
        builder.Services.AddSingleton<TurnShutdown>();
        builder.Services.AddScoped<TurnStore>();
        builder.Services.AddScoped<AgentLoop>();
        builder.Services.AddScoped<TurnRunner>();
        builder.Services.AddScoped<Idempotency>();
        builder.Services.AddScoped<PersonalityOverrides>();
        builder.Services.AddHostedService<IdempotencyPurge>();

        // An agent's context, assembled in order; long-term memory and knowledge add providers here.
        // Scoped: the knowledge provider searches the request's database.
        builder.Services.AddScoped<ContextBuilder>();
        builder.Services.AddScoped<ConversationSummarizer>();
        builder.Services.AddSingleton<Microsoft.Extensions.Options.IValidateOptions<ConversationOptions>, ConversationOptionsValidator>();
        builder.Services.AddSingleton<IContextProvider, InstructionsContext>();
        builder.Services.AddSingleton<IContextProvider, ToolsContext>();
        builder.Services.AddSingleton<IContextProvider, SummaryContext>();
        builder.Services.AddSingleton<IContextProvider, HistoryContext>();
        builder.Services.AddScoped<IContextProvider, Knowledge.KnowledgeContext>();
        return builder;
    }
}
