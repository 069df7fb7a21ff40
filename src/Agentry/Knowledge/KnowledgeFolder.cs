using Agentry.Api;
using Agentry.Audit;
using Agentry.Data;
using Microsoft.EntityFrameworkCore;

namespace Agentry.Knowledge;

/// <summary>What syncing the knowledge folder did.</summary>
public sealed record KnowledgeFolderSync(int Added, int Replaced, int Unchanged, int Removed, IReadOnlyList<string> Errors);

/// <summary>
/// Knowledge bases as files, like agents: each subfolder of the knowledge folder is a knowledge base, each Markdown,
/// text, HTML or PDF file below it a document named by its path within the subfolder. At start new and changed files are
/// queued for indexing, and documents that came from a file no longer there are removed; documents added through the
/// API or the command line are left alone.
/// </summary>
public static class KnowledgeFolder
{
    public static async Task<KnowledgeFolderSync> SyncAsync(string folder, KnowledgeLibrary library, AgentryDbContext db, CancellationToken cancellationToken)
    {
        int added = 0, replaced = 0, unchanged = 0;
        var errors = new List<string>();
        var present = new HashSet<(string, string)>();
        foreach (var baseFolder in Directory.Exists(folder) ? Directory.EnumerateDirectories(folder).Order(StringComparer.Ordinal) : Enumerable.Empty<string>())
        {
            var kb = Path.GetFileName(baseFolder);
            if (!ValidationErrors.IsSlug(kb))
            {
                errors.Add($"{kb}/: a knowledge base's folder name must be 1-64 characters of a-z, 0-9 and '-'; skipped.");
                continue;
            }
            foreach (var file in Files(baseFolder))
            {
                var name = Path.GetRelativePath(baseFolder, file).Replace(Path.DirectorySeparatorChar, '/');
                present.Add((kb, name));
                try
                {
                    var (_, change) = await library.AddAsync(kb, new KnowledgeUpload(name, null, await File.ReadAllBytesAsync(file, cancellationToken)), KnowledgeSources.Folder,
                        AuditActor.System, cancellationToken);
                    if (change == KnowledgeChange.Added) added++;
                    else if (change == KnowledgeChange.Replaced) replaced++;
                    else unchanged++;
                }
                catch (DocumentUnreadableException e)
                {
                    errors.Add($"{kb}/{name}: {e.Message}");
                }
            }
        }
        var removed = 0;
        var fromFiles = await db.KnowledgeDocuments.AsNoTracking().Where(d => d.Source == KnowledgeSources.Folder).ToListAsync(cancellationToken);
        foreach (var gone in fromFiles.Where(d => !present.Contains((d.KnowledgeBase, d.Name))))
        {
            await library.RemoveAsync(gone, AuditActor.System, cancellationToken);
            removed++;
        }
        return new KnowledgeFolderSync(added, replaced, unchanged, removed, errors);
    }

    /// <summary>The documents below a folder, in a stable order; hidden files and folders (".git") are skipped.</summary>
    public static IEnumerable<string> Files(string folder) =>
        Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories)
            .Where(f => DocumentReader.FormatOf(f) is not null)
            .Where(f => !Path.GetRelativePath(folder, f).Split(Path.DirectorySeparatorChar).Any(part => part.StartsWith('.')))
            .Order(StringComparer.Ordinal);
}
