namespace Agentry.Rules;

public static class RulesExtensions
{
    public static IHostApplicationBuilder AddRules(this IHostApplicationBuilder builder)
    {
        builder.Services.AddSingleton<RuleEngine>();
        builder.Services.AddScoped<TurnRules>();
        return builder;
    }
}
