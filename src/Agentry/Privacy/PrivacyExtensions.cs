using Agentry.Operations;

namespace Agentry.Privacy;

public static class PrivacyExtensions
{
    /// <summary>Forgetting a user on request, and deleting what is older than Data:Retention allows.</summary>
    public static IHostApplicationBuilder AddPrivacy(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<RetentionOptions>().BindSettings(RetentionOptions.Section).ValidateOnStart();
        builder.Services.AddScoped<UserErasure>();
        builder.Services.AddSingleton<RetentionJob>();
        builder.Services.AddHostedService(services => services.GetRequiredService<RetentionJob>());
        return builder;
    }
}
