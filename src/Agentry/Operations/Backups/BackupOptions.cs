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
}
