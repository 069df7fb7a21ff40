namespace Agentry.Tools;

public static class ToolsExtensions
{
    public const string HttpGetClient = "tool-http-get";

    public static IHostApplicationBuilder AddTools(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<ToolOptions>().BindConfiguration(ToolOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton<ToolCatalog>();
        builder.Services.AddScoped<ToolInvoker>();
        builder.Services.AddScoped<ToolStep>();
        builder.Services.AddScoped<ToolPolicies>();
        builder.Services.AddHttpClient(HttpGetClient, c => c.Timeout = TimeSpan.FromSeconds(10))
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler { AllowAutoRedirect = false });
        return builder;
    }
}
