using System.Collections.Concurrent;

namespace Agentry.Security;

/// <summary>
/// Refused keys are counted (<c>agentry.auth.failures</c>) and audited per minute; the log gets one line per reason per
/// minute, saying how many more there were, so a client retrying with a bad key, or a scan, cannot flood it.
/// </summary>
public sealed partial class AuthFailureLog(Observability.AgentryTelemetry telemetry, TimeProvider time, ILogger<AuthFailureLog> logger)
{
    readonly ConcurrentDictionary<string, Window> _windows = new(StringComparer.Ordinal);

    sealed class Window(long minute)
    {
        public long Minute = minute;
        public int Unlogged;
    }

    public void Refused(string reason, string? clientIp)
    {
        telemetry.AuthFailed(reason);
        var minute = time.GetUtcNow().ToUnixTimeSeconds() / 60;
        var window = _windows.GetOrAdd(reason, _ => new Window(minute - 1));
        int unlogged;
        lock (window)
        {
            if (window.Minute == minute)
            {
                window.Unlogged++;
                return;
            }
            unlogged = window.Unlogged;
            window.Minute = minute;
            window.Unlogged = 0;
        }
        LogRefused(reason, clientIp, unlogged);
    }

    [LoggerMessage(EventId = 4100, Level = LogLevel.Warning,
        Message = "Refused a request from {ClientIp}: API key {Reason} ({Unlogged} more refusals for this reason in the previous minute were counted, not logged)")]
    partial void LogRefused(string reason, string? clientIp, int unlogged);
}
