using System.ComponentModel.DataAnnotations;

namespace Agentry.OpenAi;

/// <summary>Stored and background responses (docs/openai-compatibility.md).</summary>
public sealed class ResponsesOptions
{
    public const string Section = "Responses";

    /// <summary>
    /// How long a running response stays claimed by its instance without a renewal (renewed every third of it). A
    /// response whose instance died is reported failed once this has passed, never left in progress.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan LeaseDuration { get; set; } = TimeSpan.FromSeconds(30);
}
