using System.Diagnostics;
using Agentry.Security;

namespace Agentry.Audit;

/// <summary>An event on its way into the chain. <see cref="Detail"/> is already JSON, so a staged event stores as it is.</summary>
public sealed record AuditEntry(
    DateTimeOffset Time, string Actor, string? ClientIp, string Action, string? Target, string Outcome, string? TraceId, int Count, string? Detail);

/// <summary>Who did something: a key (with the client's address when it came over HTTP), the command line, or the service itself.</summary>
public sealed record AuditActor(string Actor, string? ClientIp, string? TraceId)
{
    public static AuditActor System => new("system", null, Activity.Current?.TraceId.ToString());
    public static AuditActor Cli => new("cli", null, null);

    /// <summary>The request's caller (<c>anonymous</c> without a key).</summary>
    public static AuditActor From(HttpContext http) =>
        new(http.GetCaller()?.KeyId ?? "anonymous", http.Connection.RemoteIpAddress?.ToString(), Activity.Current?.TraceId.ToString() ?? http.TraceIdentifier);

    /// <summary>A turn's caller (the key it is charged to).</summary>
    public static AuditActor For(Caller caller) => ForKey(caller.KeyId);

    public static AuditActor ForKey(string? keyId) => new(keyId ?? "system", null, Activity.Current?.TraceId.ToString());
}

/// <summary>
/// An audit event stored in the same transaction as the change it describes, waiting for the writer to append it to
/// the hash chain. If the process dies between the two, the event is still here and is chained on the next start.
/// </summary>
public sealed class AuditOutboxEntry
{
    public long Id { get; set; }
    public DateTimeOffset Time { get; set; }
    public required string Actor { get; set; }
    public string? ClientIp { get; set; }
    public required string Action { get; set; }
    public string? Target { get; set; }
    public required string Outcome { get; set; }
    public string? TraceId { get; set; }
    public string? Detail { get; set; }

    public AuditEntry ToEntry() => new(Time, Actor, ClientIp, Action, Target, Outcome, TraceId, 1, Detail);
}
