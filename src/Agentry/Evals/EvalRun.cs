namespace Agentry.Evals;

/// <summary>A run of eval suites, stored so runs can be compared over time (and a later run told what regressed).</summary>
public sealed class EvalRun
{
    public required string Id { get; set; }
    /// <summary><see cref="EvalRunStatus"/>.</summary>
    public required string Status { get; set; }
    /// <summary>The key that started it (null from the command line).</summary>
    public string? KeyId { get; set; }
    /// <summary>What was asked: suites, models, repeats (<see cref="EvalRunRequest"/> as JSON).</summary>
    public required string Request { get; set; }
    public int CasesTotal { get; set; }
    public int CasesDone { get; set; }
    /// <summary>Cases passed / cases run, once finished.</summary>
    public double? PassRate { get; set; }
    /// <summary>The whole report (<see cref="EvalReport"/> as JSON), once finished.</summary>
    public string? Report { get; set; }
    public string? Error { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset? FinishedAt { get; set; }
}

public static class EvalRunStatus
{
    public const string Running = "running";
    public const string Passed = "passed";
    /// <summary>It ran; a case failed or regressed.</summary>
    public const string Failed = "failed";
    /// <summary>It could not run to the end (the service stopped, a suite could not be read).</summary>
    public const string Error = "error";
}
