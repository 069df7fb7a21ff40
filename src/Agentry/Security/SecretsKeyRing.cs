using System.Xml.Linq;
using Agentry.Audit;
using Agentry.Data;
using Agentry.Operations;
using Microsoft.EntityFrameworkCore;

namespace Agentry.Security;

/// <summary>
/// The start-up step for secrets at rest: the secrets key is loaded (or created), every key of the ring in the database
/// must be readable with it, and keys an earlier version stored in the clear are encrypted with it in place. A ring
/// encrypted with another key stops start-up with one line saying which key is missing, rather than failing later on
/// the first MCP server whose secrets cannot be read.
/// </summary>
public static class SecretsKeyRing
{
    static readonly XNamespace DataProtection = "http://schemas.asp.net/2015/03/dataProtection";

    public static async Task PrepareSecretsAsync(this IServiceProvider services, CancellationToken cancellationToken = default)
    {
        var key = services.GetRequiredService<SecretsKey>();
        await using var scope = services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<AgentryDbContext>();
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        await db.LockAsync(SharedLock.Bootstrap, cancellationToken);
        var rows = await db.DataProtectionKeys.ToListAsync(cancellationToken);
        if (!key.Exists && rows.Any(r => r.Xml?.Contains(SecretsKeyXmlEncryptor.ElementName, StringComparison.Ordinal) == true))
            throw new StartupException($"The database holds a secrets key ring encrypted with a secrets key, but none is configured and {key.DefaultPath} " +
                "is missing. Put the key file back, or set AGENTRY_SECRETS_KEY (or AGENTRY_SECRETS_KEY_FILE) to the key of the installation that encrypted it.");
        _ = key.Bytes; // read (or, on a first start, created) now: a bad value stops start-up here, not in the first request that needs it
        var encryptor = new SecretsKeyXmlEncryptor(key);
        var encrypted = 0;
        foreach (var row in rows)
        {
            if (row.Xml is not { } text) continue;
            var xml = XElement.Parse(text);
            foreach (var sealedKey in xml.Descendants(SecretsKeyXmlEncryptor.ElementName))
                if ((string?)sealedKey.Attribute("keyId") is { } id && id != key.Id)
                    throw new StartupException($"The secrets key ring in the database is encrypted with secrets key {id}, and this instance has {key.Id} " +
                        $"({(key.Generated ? $"just created in {key.Source}, because none was configured" : $"from {key.Source}")}). Give every instance the key that " +
                        "encrypted it (AGENTRY_SECRETS_KEY or AGENTRY_SECRETS_KEY_FILE); a backup restored elsewhere needs the key of the installation that made it.");
            // Written by a version that stored the ring unencrypted: seal each secret element now, as Data Protection would have.
            var clear = xml.Descendants().Where(e => (string?)e.Attribute(DataProtection + "requiresEncryption") == "true").ToList();
            foreach (var element in clear)
            {
                var info = encryptor.Encrypt(new XElement(element));
                element.ReplaceWith(new XElement(DataProtection + "encryptedSecret",
                    new XAttribute("decryptorType", info.DecryptorType.AssemblyQualifiedName!), info.EncryptedElement));
            }
            if (clear.Count == 0) continue;
            row.Xml = xml.ToString(SaveOptions.DisableFormatting);
            encrypted++;
        }
        if (encrypted > 0)
            services.GetRequiredService<AuditLog>().Stage(db, AuditActor.System, AuditActions.SecretsKeyRingEncrypted, "secrets-key-ring", detail: new { keys = encrypted, keyId = key.Id });
        await db.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
    }
}
