using System.Net;
using System.Text.Json.Nodes;
using Agentry.Knowledge;

namespace Agentry.Tests.Knowledge;

/// <summary>Knowledge bases as files next to the agents, the command line, and several indexers on one database.</summary>
public sealed class KnowledgeFolderTests : IDisposable
{
    readonly string _work = Directory.CreateTempSubdirectory("agentry-knowledge-").FullName;

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try { Directory.Delete(_work, recursive: true); } catch (IOException) { }
    }

    static async Task<List<JsonNode>> DocumentsAsync(AgentryApp app, string kb) =>
        [.. (await Http.JsonAsync(await app.Client.GetAsync($"/v1/knowledge/{kb}/documents")))["data"]!.AsArray().Select(d => d!)];

    [Fact]
    public async Task Files_in_the_knowledge_folder_are_indexed_at_start_and_follow_the_files_on_the_next_start()
    {
        var folder = Path.Combine(_work, "knowledge");
        var data = Path.Combine(_work, "data");
        Directory.CreateDirectory(Path.Combine(folder, "faq", "orders"));
        Directory.CreateDirectory(Path.Combine(folder, "Not A Name"));
        Directory.CreateDirectory(Path.Combine(folder, "faq", ".drafts"));
        await File.WriteAllTextAsync(Path.Combine(folder, "faq", "shipping.md"), "# Shipping\n\nParcels arrive within three working days.\n");
        await File.WriteAllTextAsync(Path.Combine(folder, "faq", "orders", "returns.txt"), "Returns are free within 30 days of delivery.");
        await File.WriteAllTextAsync(Path.Combine(folder, "faq", "logo.png"), "not a document");
        await File.WriteAllTextAsync(Path.Combine(folder, "faq", ".drafts", "secret.md"), "# Draft\n\nNot published yet.");
        await File.WriteAllTextAsync(Path.Combine(folder, "Not A Name", "x.md"), "# Skipped");
        var settings = new Dictionary<string, string?> { ["Data:Directory"] = data, ["Knowledge:Directory"] = folder };

        string apiDocument;
        await using (var app = new AgentryApp(settings: settings))
        {
            await Wait.UntilAsync(async () => (await DocumentsAsync(app, "faq")).Count(d => (string?)d["status"] == "indexed") == 2, because: "both files are indexed");
            var documents = await DocumentsAsync(app, "faq");
            Assert.Equal(["orders/returns.txt", "shipping.md"], documents.Select(d => (string)d["name"]!).ToArray());
            Assert.All(documents, d => Assert.Equal("folder", (string?)d["source"]));
            Assert.DoesNotContain((await Http.JsonAsync(await app.Client.GetAsync("/v1/knowledge")))["data"]!.AsArray(), b => ((string)b!["name"]!).Contains(' '));
            var added = await KnowledgeFiles.AddAsync(app, "faq", KnowledgeFiles.File("note.md", "# Note\n\nAdded through the API."));
            apiDocument = (string)added["document"]!["id"]!;
        }

        await File.WriteAllTextAsync(Path.Combine(folder, "faq", "shipping.md"), "# Shipping\n\nParcels arrive within five working days.\n");
        File.Delete(Path.Combine(folder, "faq", "orders", "returns.txt"));
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        await using (var app = new AgentryApp(settings: settings))
        {
            await Wait.UntilAsync(async () => (await DocumentsAsync(app, "faq")).Any(d => (string?)d["name"] == "shipping.md" && (int)d["indexedVersion"]! == 2),
                because: "the changed file is indexed again");
            var documents = await DocumentsAsync(app, "faq");
            Assert.Equal(["note.md", "shipping.md"], documents.Select(d => (string)d["name"]!).ToArray()); // the API's document stays; the deleted file's goes
            Assert.Equal(apiDocument, (string?)documents[0]["id"]);
            Assert.Contains("five working days", (string?)(await KnowledgeFiles.SearchAsync(app, "faq", "how long does delivery take?"))[0]!["text"]);
        }
    }

    [Fact]
    public async Task The_command_line_adds_lists_searches_and_removes_documents_and_says_what_it_refused()
    {
        var data = Path.Combine(_work, "data");
        var docs = Directory.CreateDirectory(Path.Combine(_work, "docs")).FullName;
        await File.WriteAllTextAsync(Path.Combine(docs, "router.md"), KnowledgeFiles.Router);
        await File.WriteAllBytesAsync(Path.Combine(docs, "broken.txt"), [0x66, 0xff, 0xfe]);

        var add = await AgentryProcess.RunCommandAsync(data, "knowledge", "add", "support-docs", docs);
        Assert.Equal(1, add.ExitCode); // one file was refused
        Assert.Contains("router.md: added", add.Output);
        Assert.Contains("[1/1] router.md: 3 passage(s) indexed", add.Output);
        Assert.Contains("broken.txt: refused: The file is not UTF-8 text", add.Output);
        var again = await AgentryProcess.RunCommandAsync(data, "knowledge", "add", "support-docs", Path.Combine(docs, "router.md"));
        Assert.Equal(0, again.ExitCode);
        Assert.Contains("router.md: unchanged", again.Output);

        var list = await AgentryProcess.RunCommandAsync(data, "knowledge", "list", "support-docs");
        Assert.Contains("router.md\tindexed\tversion 1\t3 passage(s)", list.Output);
        var search = await AgentryProcess.RunCommandAsync(data, "knowledge", "search", "support-docs", "I forgot the wifi password", "--top", "1");
        Assert.Equal(0, search.ExitCode);
        Assert.Contains("[1] router.md › Router setup › Changing the Wi-Fi password", search.Output);
        Assert.Contains("No passage is about that question.", (await AgentryProcess.RunCommandAsync(data, "knowledge", "search", "support-docs", "recipe for pancakes")).Output);

        var missing = await AgentryProcess.RunCommandAsync(data, "knowledge", "remove", "support-docs", "nothing.md");
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("nothing.md: no such document", missing.Output);
        var removed = await AgentryProcess.RunCommandAsync(data, "knowledge", "remove", "support-docs");
        Assert.Equal(0, removed.ExitCode);
        Assert.Contains("Removed the knowledge base 'support-docs' (1 document(s))", removed.Output);
        Assert.Equal(1, (await AgentryProcess.RunCommandAsync(data, "knowledge", "add", "Bad Name", docs)).ExitCode);
    }

    [Fact]
    public async Task Several_indexers_on_one_database_index_each_document_once()
    {
        var shared = Path.Combine(_work, "shared");
        var settings = new Dictionary<string, string?> { ["Data:Directory"] = shared };
        await using var a = new AgentryApp(settings: settings);
        await a.Client.GetAsync("/health/ready");
        await using var b = new AgentryApp(settings: settings);
        await using var c = new AgentryApp(settings: settings);
        await b.Client.GetAsync("/health/ready");
        await c.Client.GetAsync("/health/ready");

        var ids = new List<string>();
        for (var i = 0; i < 8; i++)
        {
            var text = string.Join("\n\n", Enumerable.Range(0, 6).Select(p => $"Paragraph {p} of document {i}: the {i * 7 + p}th tip about keeping devices up to date."));
            var response = await a.Client.PostAsync("/v1/knowledge/tips/documents", KnowledgeFiles.File($"tip-{i}.md", $"# Tip {i}\n\n{text}\n"));
            await Http.ExpectAsync(response, HttpStatusCode.Accepted);
            ids.Add((string)(await Http.JsonAsync(response))["id"]!);
        }
        // Every instance's indexer races for the queue, and two more loops call it directly.
        b.Service<KnowledgeIndexer>().Signal();
        c.Service<KnowledgeIndexer>().Signal();
        async Task Drain(AgentryApp app) { while (await app.Service<KnowledgeIndexer>().IndexNextAsync(CancellationToken.None) is not null) { } }
        await Task.WhenAll(Drain(b), Drain(c));
        foreach (var id in ids) await KnowledgeFiles.IndexedAsync(a, "tips", id);

        var documents = await DocumentsAsync(a, "tips");
        Assert.All(documents, d => Assert.Equal("indexed", (string?)d["status"]));
        var chunks = Convert.ToInt32(await TestDatabase.ScalarAsync(shared, "SELECT count(*) FROM knowledge_chunks WHERE knowledge_base = 'tips'", readOnly: true),
            System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(documents.Sum(d => (int)d["chunkCount"]!), chunks); // no document's passages were stored twice
        var vectors = Convert.ToInt32(await TestDatabase.ScalarAsync(shared, "SELECT count(*) FROM embeddings WHERE collection = 'kb:tips'", readOnly: true),
            System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(chunks, vectors);
    }
}
