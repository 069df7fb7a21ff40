using System.Text.Json;

namespace Agentry.Operations.Backups;

/// <summary>What a backup holds and how to trust it, written next to it as <c>{id}.manifest.json</c>.</summary>
public sealed record BackupManifest(
    string Id, DateTimeOffset CreatedAt, string Provider, string SchemaVersion, string File, long SizeBytes, string Sha256,
    IReadOnlyDictionary<string, long> RowCounts, IReadOnlyDictionary<string, string> TableChecksums, long DurationMs)
{
    public BackupVerification? Verification { get; init; }

    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true };
}

/// <summary>
/// The outcome of checking a backup: its checksum and integrity always; with <see cref="RestoreTested"/>, also a restore
/// into a temporary database whose row counts and table checksums matched the manifest.
/// </summary>
public sealed record BackupVerification(DateTimeOffset At, bool Ok, bool RestoreTested, string Detail);
