using System.ComponentModel.DataAnnotations;

namespace Agentry.Conversations;

public sealed class ConversationOptions
{
    public const string Section = "Conversations";

    /// <summary>Agent that answers POST /v1/chat when the request names none.</summary>
    [Required, RegularExpression("^[a-z0-9-]{1,64}$")]
    public string DefaultAgent { get; set; } = "concierge";

    /// <summary>How many of the newest messages are sent to the model as context.</summary>
    [Range(1, 1000)]
    public int HistoryLimit { get; set; } = 50;

    /// <summary>
    /// At most this many tokens (o200k) of those messages are sent, newest first: long messages must not push a turn past
    /// the model's context window or the key's budget. The system prompt and the new message come on top.
    /// </summary>
    [Range(100, 1_000_000)]
    public int HistoryTokenLimit { get; set; } = 8_000;

    /// <summary>
    /// Most tokens of the rolling summary that stands in for messages older than the history window (see
    /// <see cref="RollingSummary"/>); its oldest lines go first.
    /// </summary>
    [Range(50, 100_000)]
    public int SummaryTokenLimit { get; set; } = 1_000;

    /// <summary>
    /// Who writes the rolling summary: <c>extractive</c> (one line per message, no model call), <c>agent</c> (the answering
    /// agent's model, once per turn in which messages fell out of the window, charged to the turn like its other calls)
    /// or a cheaper model, <c>endpoint/model</c>. An offline model, or a model call that fails, leaves the extractive one.
    /// </summary>
    [Required, MaxLength(200)]
    public string SummaryModel { get; set; } = RollingSummary.Method;

    /// <summary>Tool results longer than this are truncated before they are stored.</summary>
    [Range(100, 1_000_000)]
    public int MaxStoredToolResultChars { get; set; } = 4_000;

    /// <summary>Handoffs allowed within one turn; stops two agents passing a user back and forth forever.</summary>
    [Range(0, 20)]
    public int MaxHandoffsPerTurn { get; set; } = 3;

    /// <summary>
    /// On shutdown (SIGTERM), how long running turns may go on before they are cut short, stored as interrupted and told
    /// to their clients. Below the host's 30 s shutdown timeout, so streams end cleanly instead of being reset.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:00:25")]
    public TimeSpan ShutdownGrace { get; set; } = TimeSpan.FromSeconds(10);
}

/// <summary>Conversations:SummaryModel must be extractive, agent, or a model of a configured endpoint.</summary>
public sealed class ConversationOptionsValidator(Microsoft.Extensions.Options.IOptions<Models.ModelOptions> models)
    : Microsoft.Extensions.Options.IValidateOptions<ConversationOptions>
{
    public Microsoft.Extensions.Options.ValidateOptionsResult Validate(string? name, ConversationOptions options) =>
        options.SummaryModel is RollingSummary.Method or ConversationSummarizer.Agent
        || models.Value.ReferenceProblem("Conversations:SummaryModel", options.SummaryModel) is not { } problem
            ? Microsoft.Extensions.Options.ValidateOptionsResult.Success
            : Microsoft.Extensions.Options.ValidateOptionsResult.Fail(problem);
}
