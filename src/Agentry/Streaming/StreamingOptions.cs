using System.ComponentModel.DataAnnotations;

namespace Agentry.Streaming;

/// <summary>How streamed turns and responses survive a dropped connection (docs/configuration.md, "Streaming").</summary>
public sealed class StreamingOptions
{
    public const string Section = "Streaming";

    /// <summary>
    /// How long a stream's events stay available to a client that reconnects (Last-Event-ID, or starting_after for a
    /// response), counted from its last event. Kept in Redis Streams when Redis is configured (any instance can resume
    /// it), in this process otherwise.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:05", "1.00:00:00")]
    public TimeSpan ResumeWindow { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// Whether a client that leaves a native stream cuts its turn short (stored as interrupted). Off by default: the turn
    /// runs to the end and a reconnecting client gets the rest, so a flaky mobile connection does not lose the answer.
    /// </summary>
    public bool CancelOnDisconnect { get; set; }

    /// <summary>Most events kept for one stream; a longer one stays live but only its newest events can be resumed.</summary>
    [Range(100, 1_000_000)]
    public int MaxEventsPerStream { get; set; } = 20_000;
}
