using System.ComponentModel.DataAnnotations;

namespace Agentry.Operations.Backups;

public sealed class BackupOptions
{
    public const string Section = "Backup";

    /// <summary>Take backups on a schedule (every <see cref="Interval"/>, the first soon after start when none exists).</summary>
    public bool Scheduled { get; set; } = true;

    [Range(typeof(TimeSpan), "00:00:01", "30.00:00:00")]
    public TimeSpan Interval { get; set; } = TimeSpan.FromHours(24);

    /// <summary>How many backups are kept; older ones are deleted after a new one is verified.</summary>
    [Range(1, 1000)]
    public int Retention { get; set; } = 7;

    /// <summary>Where backups go; relative paths start at the data folder. With several instances, make it shared storage.</summary>
    public string Folder { get; set; } = "backups";

    /// <summary>
    /// Every Nth backup is restored into a temporary database and compared with its manifest (1: every one; 0: never).
    /// Every backup gets its checksum and integrity checked either way.
    /// </summary>
    [Range(0, 1000)]
    public int RestoreTestEvery { get; set; } = 1;

    /// <summary>pg_dump (and psql, for restores) for PostgreSQL backups; found on the PATH when empty.</summary>
    public string? PostgresBinDirectory { get; set; }

    /// <summary>
    /// Encrypts every backup (scheduled or not) with this key: 32 random bytes in base64 (alias AGENTRY_BACKUP_KEY; make
    /// one with <c>agentry secrets new-key</c>). Keep it apart from the backups: without it they cannot be restored.
    /// </summary>
    public string? EncryptionKey { get; set; }

    /// <summary>A file holding <see cref="EncryptionKey"/> (alias AGENTRY_BACKUP_KEY_FILE), e.g. a mounted secret.</summary>
    public string? EncryptionKeyFile { get; set; }

    /// <summary>The backup key, or null when backups are not encrypted; a bad value is a start-up error naming the setting.</summary>
    public byte[]? LoadEncryptionKey()
    {
        var (text, where) = !string.IsNullOrWhiteSpace(EncryptionKey) ? (EncryptionKey, "Backup:EncryptionKey (AGENTRY_BACKUP_KEY)")
            : !string.IsNullOrWhiteSpace(EncryptionKeyFile) ? (File.Exists(EncryptionKeyFile) ? File.ReadAllText(EncryptionKeyFile) : null, $"Backup:EncryptionKeyFile '{EncryptionKeyFile}'")
            : (null, null);
        if (where is null) return null;
        try
        {
            if (text is not null && Convert.FromBase64String(text.Trim()) is { Length: 32 } key) return key;
        }
        catch (FormatException)
        {
        }
        throw new StartupException($"{where} must be 32 random bytes in base64 (44 characters){(text is null ? ", and the file must exist" : "")}; make one with 'agentry secrets new-key'.");
    }
}

/// <summary>A backup key that cannot be read stops start-up, not the first backup hours later.</summary>
public sealed class BackupOptionsValidator : Microsoft.Extensions.Options.IValidateOptions<BackupOptions>
{
    public Microsoft.Extensions.Options.ValidateOptionsResult Validate(string? name, BackupOptions options)
    {
        try
        {
            options.LoadEncryptionKey();
            return Microsoft.Extensions.Options.ValidateOptionsResult.Success;
        }
        catch (StartupException e)
        {
            return Microsoft.Extensions.Options.ValidateOptionsResult.Fail(e.Message);
        }
    }
}
