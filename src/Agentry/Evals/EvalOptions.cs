using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace Agentry.Evals;

/// <summary>Eval suites: where their files live, the judge model, and how hard a run may push the service.</summary>
public sealed class EvalOptions
{
    public const string Section = "Evals";

    /// <summary>Folder of suite files (<c>*.yaml</c>). Unset: <c>evals</c> inside the agents folder (the help desk's demo suite ships there).</summary>
    public string? Directory { get; set; }

    /// <summary>
    /// The model that scores judged expectations (a rubric, groundedness), as <c>endpoint/model</c>. Unset: they are
    /// reported skipped. <c>agentry eval run --judge</c> names one for a run.
    /// </summary>
    public string? JudgeModel { get; set; }

    /// <summary>Cases run at once when a run does not say.</summary>
    [Range(1, 32)]
    public int Concurrency { get; set; } = 4;

    /// <summary>Runs started through the API that may run at once on an instance; one more is refused (429) until one ends.</summary>
    [Range(1, 32)]
    public int MaxRunning { get; set; } = 2;

    /// <summary>Most repeats of each case a run may ask for (each repeat is every case again, on every model).</summary>
    [Range(1, 100)]
    public int MaxRepeat { get; set; } = 20;

    public string? EffectiveDirectory(string? agentsDirectory) =>
        !string.IsNullOrWhiteSpace(Directory) ? Directory : string.IsNullOrEmpty(agentsDirectory) ? null : Path.Combine(agentsDirectory, "evals");
}

/// <summary>Evals:JudgeModel must name a configured endpoint, and not the offline model (it cannot judge anything).</summary>
public sealed class EvalOptionsValidator(IOptions<Models.ModelOptions> models) : IValidateOptions<EvalOptions>
{
    public ValidateOptionsResult Validate(string? name, EvalOptions options) =>
        string.IsNullOrWhiteSpace(options.JudgeModel) ? ValidateOptionsResult.Success
        : JudgeProblem(models.Value, options.JudgeModel, "Evals:JudgeModel") is { } problem ? ValidateOptionsResult.Fail(problem)
        : ValidateOptionsResult.Success;

    public static string? JudgeProblem(Models.ModelOptions models, string judge, string setting) =>
        Models.ModelReference.TryParse(judge, out var reference) && reference.IsOffline
            ? $"{setting} cannot be the offline model: it cannot judge a reply. Name a provider's model (for example 'openai/gpt-4o-mini')."
            : models.ReferenceProblem(setting, judge);
}
