using System.CommandLine;
using Agentry.Api;
using Agentry.Audit;
using Agentry.Data;
using Agentry.Operations;
using Microsoft.EntityFrameworkCore;

namespace Agentry.Knowledge;

/// <summary><c>agentry knowledge add|list|remove|search</c>: knowledge bases from the command line, against the configured database.</summary>
public static class KnowledgeCommands
{
    public static Command Knowledge(CommandHost host)
    {
        var addBase = new Argument<string>("KB") { Description = "The knowledge base (1-64 characters of a-z, 0-9 and '-')." };
        var paths = new Argument<string[]>("PATHS") { Description = "Files (.md, .txt, .html, .pdf) or folders of them.", Arity = ArgumentArity.OneOrMore };
        var add = new Command("add", "Add files to a knowledge base and index them here (same name again: replaced if changed, skipped if not).") { addBase, paths };
        add.SetAction((parse, ct) => AddAsync(host, parse.GetValue(addBase)!, parse.GetValue(paths)!, ct));

        var listBase = new Argument<string?>("KB") { Description = "A knowledge base: list its documents. Without: list the knowledge bases.", Arity = ArgumentArity.ZeroOrOne };
        var list = new Command("list", "List knowledge bases, or one's documents with their status.") { listBase };
        list.SetAction((parse, ct) => ListAsync(host, parse.GetValue(listBase), ct));

        var removeBase = new Argument<string>("KB") { Description = "The knowledge base." };
        var names = new Argument<string[]>("NAMES") { Description = "Document names; none removes the whole knowledge base.", Arity = ArgumentArity.ZeroOrMore };
        var remove = new Command("remove", "Remove documents (or a whole knowledge base) with their passages and vectors.") { removeBase, names };
        remove.SetAction((parse, ct) => RemoveAsync(host, parse.GetValue(removeBase)!, parse.GetValue(names) ?? [], ct));

        var searchBase = new Argument<string>("KB") { Description = "The knowledge base." };
        var query = new Argument<string>("QUERY") { Description = "The question." };
        var top = new Option<int>("--top") { Description = "Passages to show (1-20).", DefaultValueFactory = _ => 5 };
        var search = new Command("search", "Show the passages that answer a question, as an agent would get them.") { searchBase, query, top };
        search.SetAction((parse, ct) => SearchAsync(host, parse.GetValue(searchBase)!, parse.GetValue(query)!, parse.GetValue(top), ct));

        return new Command("knowledge", "Knowledge bases: the documents agents answer from.") { add, list, remove, search };
    }

    static bool CheckName(string kb)
    {
        if (ValidationErrors.IsSlug(kb)) return true;
        Console.Error.WriteLine($"'{kb}' is not a knowledge base name: use 1-64 characters of a-z, 0-9 and '-'.");
        return false;
    }

    static async Task<int> AddAsync(CommandHost host, string kb, string[] paths, CancellationToken cancellationToken)
    {
        if (!CheckName(kb)) return 1;
        var files = new List<(string Path, string Name)>();
        foreach (var path in paths)
        {
            if (Directory.Exists(path)) files.AddRange(KnowledgeFolder.Files(path).Select(f => (f, Path.GetRelativePath(path, f).Replace(Path.DirectorySeparatorChar, '/'))));
            else if (File.Exists(path)) files.Add((path, Path.GetFileName(path)));
            else
            {
                Console.Error.WriteLine($"{path}: no such file or folder.");
                return 1;
            }
        }
        if (files.Count == 0)
        {
            Console.Error.WriteLine("No document (.md, .markdown, .txt, .html, .htm, .pdf) in the paths given.");
            return 1;
        }

        var services = await host.ReadyAsync();
        await using var scope = services.CreateAsyncScope();
        var library = scope.ServiceProvider.GetRequiredService<KnowledgeLibrary>();
        var queued = new HashSet<string>();
        var failed = 0;
        foreach (var (path, name) in files)
        {
            try
            {
                var (document, change) = await library.AddAsync(kb, new KnowledgeUpload(name, null, await File.ReadAllBytesAsync(path, cancellationToken)), KnowledgeSources.Cli,
                    AuditActor.Cli, cancellationToken);
                Console.WriteLine($"{name}: {(change == KnowledgeChange.Unchanged ? "unchanged" : change == KnowledgeChange.Added ? "added" : $"replaced (version {document.Version})")}");
                if (change != KnowledgeChange.Unchanged) queued.Add(document.Id);
            }
            catch (DocumentUnreadableException e)
            {
                Console.Error.WriteLine($"{name}: refused: {e.Message}");
                failed++;
            }
        }
        await CommandHost.ChainAuditAsync(scope.ServiceProvider);

        // Indexed here, one by one, so the command ends when the documents are searchable.
        var indexer = services.GetRequiredService<KnowledgeIndexer>();
        var done = 0;
        while (queued.Count > 0 && await indexer.IndexNextAsync(cancellationToken) is { } indexed)
        {
            if (!queued.Remove(indexed.Id)) continue; // someone else's queued document: indexed too, not reported
            done++;
            if (indexed.Status == KnowledgeStatus.Failed)
            {
                failed++;
                Console.Error.WriteLine($"[{done}/{done + queued.Count}] {indexed.Name}: failed: {indexed.Error}");
            }
            else Console.WriteLine($"[{done}/{done + queued.Count}] {indexed.Name}: {indexed.ChunkCount} passage(s) indexed");
        }
        // A running instance claimed what is left; it indexes them.
        if (queued.Count > 0) Console.WriteLine($"{queued.Count} document(s) are being indexed by a running instance.");
        return failed == 0 ? 0 : 1;
    }

    static async Task<int> ListAsync(CommandHost host, string? kb, CancellationToken cancellationToken)
    {
        await using var scope = (await host.ReadyAsync()).CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<AgentryDbContext>();
        if (kb is null)
        {
            var bases = await db.KnowledgeDocuments.AsNoTracking().GroupBy(d => d.KnowledgeBase)
                .Select(g => new { Name = g.Key, Documents = g.Count(), Chunks = g.Sum(d => d.ChunkCount) }).OrderBy(b => b.Name).ToListAsync(cancellationToken);
            foreach (var b in bases) Console.WriteLine($"{b.Name}\t{b.Documents} document(s)\t{b.Chunks} passage(s)");
            if (bases.Count == 0) Console.WriteLine("No knowledge base has documents yet: agentry knowledge add KB FILES…");
            return 0;
        }
        if (!CheckName(kb)) return 1;
        var documents = await db.KnowledgeDocuments.AsNoTracking().Where(d => d.KnowledgeBase == kb).OrderBy(d => d.Name).ToListAsync(cancellationToken);
        foreach (var d in documents)
            Console.WriteLine($"{d.Name}\t{d.Status}{(d.Error is null ? "" : $" ({d.Error})")}\tversion {d.Version}\t{d.ChunkCount} passage(s)\t{d.Id}");
        if (documents.Count == 0)
        {
            Console.Error.WriteLine($"The knowledge base '{kb}' has no documents.");
            return 1;
        }
        return 0;
    }

    static async Task<int> RemoveAsync(CommandHost host, string kb, string[] names, CancellationToken cancellationToken)
    {
        if (!CheckName(kb)) return 1;
        await using var scope = (await host.ReadyAsync()).CreateAsyncScope();
        var library = scope.ServiceProvider.GetRequiredService<KnowledgeLibrary>();
        if (names.Length == 0)
        {
            var removed = await library.RemoveBaseAsync(kb, AuditActor.Cli, cancellationToken);
            await CommandHost.ChainAuditAsync(scope.ServiceProvider);
            Console.WriteLine(removed > 0 ? $"Removed the knowledge base '{kb}' ({removed} document(s))." : $"The knowledge base '{kb}' has no documents.");
            return removed > 0 ? 0 : 1;
        }
        var db = scope.ServiceProvider.GetRequiredService<AgentryDbContext>();
        var missing = 0;
        foreach (var name in names)
        {
            var document = await db.KnowledgeDocuments.AsNoTracking().FirstOrDefaultAsync(d => d.KnowledgeBase == kb && d.Name == name, cancellationToken);
            if (document is null)
            {
                Console.Error.WriteLine($"{name}: no such document in '{kb}'.");
                missing++;
                continue;
            }
            await library.RemoveAsync(document, AuditActor.Cli, cancellationToken);
            Console.WriteLine($"{name}: removed");
        }
        await CommandHost.ChainAuditAsync(scope.ServiceProvider);
        return missing == 0 ? 0 : 1;
    }

    static async Task<int> SearchAsync(CommandHost host, string kb, string query, int top, CancellationToken cancellationToken)
    {
        if (!CheckName(kb)) return 1;
        if (top is < 1 or > 20)
        {
            Console.Error.WriteLine("--top must be between 1 and 20.");
            return 1;
        }
        await using var scope = (await host.ReadyAsync()).CreateAsyncScope();
        var hits = await scope.ServiceProvider.GetRequiredService<KnowledgeSearch>().SearchAsync([kb], query, top, cancellationToken);
        if (hits.Count == 0) Console.WriteLine("No passage is about that question.");
        for (var i = 0; i < hits.Count; i++)
        {
            var p = hits[i].Passage;
            Console.WriteLine($"[{i + 1}] {p.Document}{(p.Section.Length > 0 ? $" › {p.Section}" : "")} (similarity {hits[i].Similarity:0.00}, {hits[i].Match})");
            Console.WriteLine($"    {p.Text.ReplaceLineEndings(" ")}");
        }
        return 0;
    }
}
