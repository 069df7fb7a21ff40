using System.ComponentModel.DataAnnotations;

namespace Agentry.Privacy;

/// <summary>
/// How long data is kept (Data:Retention). Each is unset by default: keep everything. A background job deletes what is
/// older, a small batch per transaction, so turns never wait long behind it.
/// </summary>
public sealed class RetentionOptions
{
    public const string Section = "Data:Retention";

    /// <summary>Conversations not updated for this long go, with their messages, summaries, approvals, tool calls and vectors (e.g. <c>90.00:00:00</c>).</summary>
    [Range(typeof(TimeSpan), "01:00:00", "36500.00:00:00")]
    public TimeSpan? Conversations { get; set; }

    /// <summary>Daily analytics rows and error groups older than this go.</summary>
    [Range(typeof(TimeSpan), "1.00:00:00", "36500.00:00:00")]
    public TimeSpan? Analytics { get; set; }

    /// <summary>
    /// Audit events older than this go. The job first writes an event that records the hash of the last one it deletes, so
    /// the chain still verifies from there (GET /v1/audit/verify reports how many were pruned).
    /// </summary>
    [Range(typeof(TimeSpan), "1.00:00:00", "36500.00:00:00")]
    public TimeSpan? Audit { get; set; }

    /// <summary>How often the job looks.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")]
    public TimeSpan Interval { get; set; } = TimeSpan.FromHours(1);

    /// <summary>Rows (conversations, audit events) per transaction.</summary>
    [Range(1, ConversationRows.MaxBatch)]
    public int BatchSize { get; set; } = 200;
}
