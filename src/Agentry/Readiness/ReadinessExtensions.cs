using Agentry.Security;

namespace Agentry.Readiness;

public static class ReadinessExtensions
{
    public static IHostApplicationBuilder AddReadiness(this IHostApplicationBuilder builder)
    {
        builder.Services.AddSingleton<ProductionReadiness>();
        return builder;
    }

    public static WebApplication MapReadinessApi(this WebApplication app)
    {
        app.MapGet("/v1/admin/readiness", ReadAsync).WithTags("Operations").WithName("GetProductionReadiness").RequireAuthorization(Policies.Admin)
            .WithSummary("The production checklist for this configuration and its data: a score out of 100, by category, with a fix for each failed item.");
        return app;
    }

    static async Task<Microsoft.AspNetCore.Http.HttpResults.Ok<ReadinessReport>> ReadAsync(ProductionReadiness readiness, CancellationToken cancellationToken) =>
        TypedResults.Ok(await readiness.CheckAsync(cancellationToken));
}
