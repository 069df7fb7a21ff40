namespace Agentry.Data;

public sealed class DataOptions
{
    public const string Section = "Data";

    /// <summary>Folder for the SQLite database and other local state; relative paths start at the content root. Alias: AGENTRY_DATA_DIR.</summary>
    public string Directory { get; set; } = "data";

    /// <summary>Full SQLite connection string; overrides <see cref="Directory"/> when set.</summary>
    public string? ConnectionString { get; set; }

    /// <summary>Apply pending migrations when the service starts. Turn off to run <c>agentry migrate</c> as a separate step.</summary>
    public bool MigrateOnStartup { get; set; } = true;

    /// <summary>The data folder as an absolute path: relative settings start at the content root.</summary>
    public string FullDirectory(string contentRoot) => Path.GetFullPath(Path.Combine(contentRoot, Directory));
}
