using System.Text.Json;

namespace Agentry.Operations.Backups;

/// <summary>What a backup holds and how to trust it, written next to it as <c>{id}.manifest.json</c>.</summary>
public sealed record BackupManifest(
    string Id, DateTimeOffset CreatedAt, string Provider, string SchemaVersion, string File, long SizeBytes, string Sha256,
    IReadOnlyDictionary<string, long> RowCounts, IReadOnlyDictionary<string, string> TableChecksums, long DurationMs)
{
    public BackupVerification? Verification { get; init; }

    /// <summary><see cref="BackupEncryption.Scheme"/> when the file is encrypted with the backup key, else null.</summary>
    public string? Encryption { get; init; }

    /// <summary>Which backup key encrypted it (<see cref="BackupEncryption.KeyId"/>), so a restore can say which key it needs.</summary>
    public string? EncryptionKeyId { get; init; }

    /// <summary>Whether <see cref="File"/> is a plain file name in the backup folder, as this service writes it: a manifest that names a path elsewhere (edited, or from another machine) is not trusted.</summary>
    public bool NamesFileInFolder => BackupFolder.IsFileName(File) && File.StartsWith(Id, StringComparison.Ordinal) && BackupFolder.IsFileName(Id);

    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true };
}

/// <summary>
/// The outcome of checking a backup: its checksum and integrity always; with <see cref="RestoreTested"/>, also a restore
/// into a temporary database whose row counts and table checksums matched the manifest.
/// </summary>
public sealed record BackupVerification(DateTimeOffset At, bool Ok, bool RestoreTested, string Detail);
