namespace Agentry.Approvals;

public static class ApprovalsExtensions
{
    public static IHostApplicationBuilder AddApprovals(this IHostApplicationBuilder builder)
    {
        builder.Services.AddScoped<ApprovalFlow>();
        return builder;
    }
}
