using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Agentry.Audit;
using Agentry.Data;
using Microsoft.EntityFrameworkCore;

namespace Agentry.Mcp;

/// <summary>What a server's listing may offer: the tools whose definitions are pinned, and the changes held for an admin.</summary>
public sealed record McpPinVerdict(IReadOnlySet<string> Approved, IReadOnlyList<McpToolChange> Held, string? PendingHash);

/// <summary>
/// Pins each MCP server's tool list when it is first listed after an admin added it (or, for a server in settings, when
/// it is first connected), and holds any later change (a "rug pull": a description that now tells the model to do
/// something else, a new tool under an agent's <c>mcp:server/*</c>) until an admin approves it with
/// <c>POST /v1/mcp/servers/{name}/approve-tools</c>. A held change is audited (<c>mcp.tools.changed</c>), logged, shown on
/// the server and in readiness, and raises the <c>mcp-tools-changed</c> alert.
/// </summary>
public sealed partial class McpToolPins(IServiceScopeFactory scopes, AuditLog audit, TimeProvider time, ILogger<McpToolPins> logger)
{
    static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <summary>The fingerprint of one listed tool: a hash over its whole definition as the model would receive it.</summary>
    public static McpToolFingerprint Fingerprint(ModelContextProtocol.Protocol.Tool tool)
    {
        var definition = JsonSerializer.SerializeToElement(tool, ModelContextProtocol.McpJsonUtilities.DefaultOptions);
        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(Api.CanonicalJson.Serialize(definition))));
        return new McpToolFingerprint(tool.Name, hash, tool.Description ?? "");
    }

    static string Hash(IEnumerable<McpToolFingerprint> tools) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(string.Join('\n', tools.OrderBy(t => t.Name, StringComparer.Ordinal).Select(t => $"{t.Name} {t.Hash}")))));

    /// <summary>
    /// Compares a listing with the server's pin: pins it when there is none yet (accepted by <paramref name="pinnedBy"/>),
    /// records a new held change once, and says which tools may be offered.
    /// </summary>
    public async Task<McpPinVerdict> CheckAsync(string server, IReadOnlyList<McpToolFingerprint> listing, string pinnedBy, CancellationToken cancellationToken)
    {
        var hash = Hash(listing);
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<AgentryDbContext>();
        var pin = await db.McpToolPins.FirstOrDefaultAsync(p => p.Server == server, cancellationToken);
        if (pin is null)
        {
            db.McpToolPins.Add(new McpToolPin { Server = server, Tools = JsonSerializer.Serialize(listing, Json), Hash = hash, PinnedAt = time.GetUtcNow(), PinnedBy = pinnedBy });
            try
            {
                await db.SaveChangesAsync(cancellationToken);
                return new McpPinVerdict(listing.Select(t => t.Name).ToHashSet(StringComparer.Ordinal), [], null);
            }
            catch (DbUpdateException)
            {
                // Another instance pinned it first: compare with theirs.
                db.ChangeTracker.Clear();
                pin = await db.McpToolPins.FirstAsync(p => p.Server == server, cancellationToken);
            }
        }
        var pinned = JsonSerializer.Deserialize<List<McpToolFingerprint>>(pin.Tools, Json) ?? [];
        if (pin.Hash == hash)
        {
            if (pin.PendingHash is not null)
            {
                // The server went back to what was approved: nothing is held any more.
                (pin.PendingTools, pin.PendingHash, pin.PendingSince) = (null, null, null);
                await db.SaveChangesAsync(cancellationToken);
            }
            return new McpPinVerdict(listing.Select(t => t.Name).ToHashSet(StringComparer.Ordinal), [], null);
        }

        var changes = Changes(pinned, listing);
        if (pin.PendingHash != hash)
        {
            (pin.PendingTools, pin.PendingHash, pin.PendingSince) = (JsonSerializer.Serialize(listing, Json), hash, time.GetUtcNow());
            audit.Stage(db, AuditActor.System, AuditActions.McpToolsChanged, $"mcp-server:{server}", "held",
                new { changes = changes.Select(c => new { c.Name, c.Change }), pendingHash = hash });
            await db.SaveChangesAsync(cancellationToken);
            LogChangeHeld(server, string.Join(", ", changes.Select(c => $"{c.Name} {c.Change}")));
        }
        var approved = listing.Where(t => pinned.Any(p => p.Name == t.Name && p.Hash == t.Hash)).Select(t => t.Name).ToHashSet(StringComparer.Ordinal);
        return new McpPinVerdict(approved, changes, hash);
    }

    static List<McpToolChange> Changes(List<McpToolFingerprint> pinned, IReadOnlyList<McpToolFingerprint> listing) =>
    [
        .. listing.Where(t => pinned.All(p => p.Name != t.Name)).Select(t => new McpToolChange(t.Name, "added", t.Description)),
        .. listing.Where(t => pinned.Any(p => p.Name == t.Name && p.Hash != t.Hash)).Select(t => new McpToolChange(t.Name, "changed", t.Description)),
        .. pinned.Where(p => listing.All(t => t.Name != p.Name)).Select(p => new McpToolChange(p.Name, "removed", null)),
    ];

    /// <summary>
    /// Makes the held listing the pin, in the caller's unit of work with its audit event. False when nothing is held, or
    /// when <paramref name="expectedHash"/> names another listing than the one held now (it changed again since).
    /// </summary>
    public async Task<bool> ApproveAsync(string server, string? expectedHash, AuditActor actor, AgentryDbContext db, CancellationToken cancellationToken)
    {
        var pin = await db.McpToolPins.FirstOrDefaultAsync(p => p.Server == server, cancellationToken);
        if (pin?.PendingHash is null || pin.PendingTools is null || (expectedHash is not null && expectedHash != pin.PendingHash)) return false;
        var changes = Changes(JsonSerializer.Deserialize<List<McpToolFingerprint>>(pin.Tools, Json) ?? [],
            JsonSerializer.Deserialize<List<McpToolFingerprint>>(pin.PendingTools, Json) ?? []);
        (pin.Tools, pin.Hash, pin.PinnedAt, pin.PinnedBy) = (pin.PendingTools, pin.PendingHash, time.GetUtcNow(), actor.Actor);
        (pin.PendingTools, pin.PendingHash, pin.PendingSince) = (null, null, null);
        audit.Stage(db, actor, AuditActions.McpToolsApproved, $"mcp-server:{server}", detail: new { changes = changes.Select(c => new { c.Name, c.Change }), hash = pin.Hash });
        await db.SaveChangesAsync(cancellationToken);
        return true;
    }

    /// <summary>Forgets a server's pin (it was removed), in the caller's unit of work: added again, it is pinned afresh.</summary>
    public static async Task ForgetAsync(string server, AgentryDbContext db, CancellationToken cancellationToken) =>
        await db.McpToolPins.Where(p => p.Server == server).ExecuteDeleteAsync(cancellationToken);

    [LoggerMessage(EventId = 7106, Level = LogLevel.Warning, Message = "MCP server {Server} changed its tools ({Changes}); the change is held until an admin approves it (POST /v1/mcp/servers/{Server}/approve-tools)")]
    partial void LogChangeHeld(string server, string changes);
}
