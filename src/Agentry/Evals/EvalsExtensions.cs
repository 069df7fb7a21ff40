using Agentry.Operations;
using Microsoft.Extensions.Options;

namespace Agentry.Evals;

public static class EvalsExtensions
{
    public static IHostApplicationBuilder AddEvals(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<EvalOptions>().BindSettings(EvalOptions.Section).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<EvalOptions>, EvalOptionsValidator>();
        builder.Services.AddScoped<EvalSuites>();
        builder.Services.AddSingleton<EvalRunner>();
        builder.Services.AddSingleton<EvalRuns>();
        return builder;
    }
}
