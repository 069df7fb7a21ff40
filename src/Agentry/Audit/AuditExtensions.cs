namespace Agentry.Audit;

public static class AuditExtensions
{
    public static IHostApplicationBuilder AddAudit(this IHostApplicationBuilder builder)
    {
        builder.Services.AddSingleton<AuditLog>();
        builder.Services.AddSingleton<AuditOutboxInterceptor>();
        builder.Services.AddSingleton<AuditWriter>();
        builder.Services.AddHostedService(services => services.GetRequiredService<AuditWriter>());
        return builder;
    }
}
