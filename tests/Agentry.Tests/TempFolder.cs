namespace Agentry.Tests;

/// <summary>A folder under the system's temporary folder that is deleted, with what a test left in it, when disposed.</summary>
public sealed class TempFolder(string prefix) : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory(prefix).FullName;

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools(); // a pooled connection keeps a database file in it open
        try { Directory.Delete(Path, recursive: true); }
        catch (IOException) { } // a process a failed test left behind may still write there: the test's own failure says more
        catch (UnauthorizedAccessException) { }
    }
}
