using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Agentry.Data;
using Microsoft.EntityFrameworkCore;

namespace Agentry.Audit;

/// <summary>The verdict of a chain check.</summary>
public sealed record AuditVerification(bool Valid, long Checked, long? FirstInvalidId, string? Problem);

/// <summary>Hashing and verifying the audit log's hash chain.</summary>
public static class AuditChain
{
    public const string Genesis = "0000000000000000000000000000000000000000000000000000000000000000";

    /// <summary>SHA-256 over every stored field except the hash itself, in a fixed order with unambiguous separators.</summary>
    public static string ComputeHash(AuditEvent e)
    {
        var text = string.Join('\u001f',
            e.Id.ToString(CultureInfo.InvariantCulture), e.Time.UtcTicks.ToString(CultureInfo.InvariantCulture), e.Actor, e.ClientIp ?? "",
            e.Action, e.Target ?? "", e.Outcome, e.TraceId ?? "", e.Count.ToString(CultureInfo.InvariantCulture), e.Detail ?? "", e.PreviousHash);
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));
    }

    /// <summary>
    /// Walks the log in id order: each row's hash must match its content, and its previous-hash must equal the
    /// hash of the row before it, so an edited row, a deleted row in the middle or a reordered row is found.
    /// </summary>
    public static async Task<AuditVerification> VerifyAsync(AgentryDbContext db, CancellationToken cancellationToken)
    {
        var previous = Genesis;
        // Events the retention job deleted (Data:Retention:Audit) are vouched for by the anchor it wrote: the chain starts from it.
        if (await db.AuditEvents.AsNoTracking().OrderBy(e => e.Id).Select(e => e.PreviousHash).FirstOrDefaultAsync(cancellationToken) is { } first && first != Genesis)
        {
            var anchor = $"\"auditThroughHash\":\"{first}\"";
            if (await db.AuditEvents.AsNoTracking().AnyAsync(e => e.Action == AuditActions.RetentionApplied && e.Detail != null && e.Detail.Contains(anchor), cancellationToken))
                previous = first;
        }
        long count = 0;
        long lastId = 0;
        while (true)
        {
            var batch = await db.AuditEvents.AsNoTracking().Where(e => e.Id > lastId).OrderBy(e => e.Id).Take(1000).ToListAsync(cancellationToken);
            if (batch.Count == 0) return new AuditVerification(true, count, null, null);
            foreach (var e in batch)
            {
                count++;
                if (e.PreviousHash != previous)
                    return new AuditVerification(false, count, e.Id, $"Event {e.Id} does not follow the event before it: a row was deleted, inserted or reordered.");
                if (ComputeHash(e) != e.Hash)
                    return new AuditVerification(false, count, e.Id, $"Event {e.Id} was changed after it was written.");
                previous = e.Hash;
                lastId = e.Id;
            }
        }
    }
}
