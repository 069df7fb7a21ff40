namespace Agentry.Operations;

/// <summary>
/// Files that hold secrets or personal data (the admin key, the secrets key, backups, user exports) are created
/// readable and writable by the service's user only (0600), from the moment they exist: never world-readable first and
/// restricted afterwards.
/// </summary>
public static class OwnerOnlyFile
{
    const UnixFileMode OwnerReadWrite = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>Creates (or truncates) the file with mode 0600 and opens it for writing.</summary>
    public static FileStream Create(string path)
    {
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write, Share = FileShare.None };
        if (!OperatingSystem.IsWindows()) options.UnixCreateMode = OwnerReadWrite;
        var stream = new FileStream(path, options);
        Restrict(path); // an existing file keeps its mode when truncated: make it 0600 too
        return stream;
    }

    public static async Task WriteAllTextAsync(string path, string content, CancellationToken cancellationToken = default)
    {
        await using var stream = Create(path);
        await using var writer = new StreamWriter(stream);
        await writer.WriteAsync(content.AsMemory(), cancellationToken);
    }

    /// <summary>Creates an empty 0600 file for a tool that writes into an existing file (SQLite, pg_dump keep its mode).</summary>
    public static void Touch(string path)
    {
        using var _ = Create(path);
    }

    /// <summary>Copies a file; the copy is 0600 whatever the source's mode.</summary>
    public static void Copy(string source, string target)
    {
        using (var input = File.OpenRead(source))
        using (var output = Create(target))
            input.CopyTo(output);
    }

    public static void Restrict(string path)
    {
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(path, OwnerReadWrite);
    }

    /// <summary>A folder only the service's user can enter (0700), created if missing.</summary>
    public static void RestrictFolder(string path)
    {
        Directory.CreateDirectory(path);
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    }
}
