using System.Text.Json;

namespace Agentry.Operations.Backups;

/// <summary>
/// The folder backups live in: <c>{id}.db</c> or <c>{id}.sql</c> (or <c>….enc</c> when encrypted) beside
/// <c>{id}.manifest.json</c>. The folder is 0700 and every file 0600 from the moment it exists: backups hold everyone's
/// conversations. Only plain file names are ever joined to the folder, so neither an operator's argument nor an edited
/// manifest can point a restore or a prune at a file elsewhere.
/// </summary>
public sealed class BackupFolder(string path)
{
    public string Path { get; } = path;

    /// <summary>A name with no directory part at all (no separators, not '.' or '..').</summary>
    public static bool IsFileName(string? name) =>
        !string.IsNullOrWhiteSpace(name) && name == System.IO.Path.GetFileName(name) && name is not ("." or "..")
        && name.IndexOfAny(['/', '\\', '\0']) < 0 && !System.IO.Path.IsPathRooted(name);

    /// <summary>The full path of a file in the folder; throws for anything but a plain file name.</summary>
    public string File(string name) => IsFileName(name)
        ? System.IO.Path.Combine(Path, name)
        : throw new InvalidOperationException($"'{name}' is not a backup's id or file name; give it as 'agentry backups list' shows it, without a folder.");

    public void Create() => OwnerOnlyFile.RestrictFolder(Path);

    /// <summary>Manifests in the folder that name a file in it, newest first; unreadable or untrustworthy ones are reported and skipped.</summary>
    public IReadOnlyList<BackupManifest> Manifests(Action<string, Exception?> skipped)
    {
        if (!Directory.Exists(Path)) return [];
        var manifests = new List<BackupManifest>();
        foreach (var file in Directory.GetFiles(Path, "*.manifest.json"))
        {
            try
            {
                if (JsonSerializer.Deserialize<BackupManifest>(System.IO.File.ReadAllText(file), BackupManifest.Json) is not { } manifest) continue;
                if (manifest.NamesFileInFolder && System.IO.Path.GetFileName(file) == $"{manifest.Id}.manifest.json") manifests.Add(manifest);
                else skipped(file, null);
            }
            catch (Exception e) when (e is JsonException or IOException)
            {
                skipped(file, e);
            }
        }
        return manifests.OrderByDescending(m => m.CreatedAt).ToList();
    }

    public async Task WriteManifestAsync(BackupManifest manifest)
    {
        var path = File($"{manifest.Id}.manifest.json");
        await OwnerOnlyFile.WriteAllTextAsync(path + ".partial", JsonSerializer.Serialize(manifest, BackupManifest.Json));
        System.IO.File.Move(path + ".partial", path, overwrite: true);
    }

    public void Delete(BackupManifest manifest)
    {
        TryDelete(File(manifest.File));
        TryDelete(File($"{manifest.Id}.manifest.json"));
    }

    /// <summary>Removes whatever a failed backup left (a file without a manifest is not a backup).</summary>
    public void DeleteLeftovers(string id)
    {
        foreach (var leftover in Directory.GetFiles(Path, IsFileName(id) ? id + ".*" : "")) TryDelete(leftover);
    }

    public static void TryDelete(string path)
    {
        try { System.IO.File.Delete(path); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
