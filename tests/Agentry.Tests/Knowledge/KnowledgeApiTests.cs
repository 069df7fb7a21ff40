using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Agentry.Api;

namespace Agentry.Tests.Knowledge;

/// <summary>
/// Knowledge bases through the API: each format is read and cut along its structure, passages are found by words and by
/// meaning, an unchanged file changes nothing, a new version replaces the old passages, and every bad upload is a
/// problem that says what is wrong.
/// </summary>
public sealed class KnowledgeApiTests
{
    static string Texts(JsonArray hits) => string.Join("\n", hits.Select(h => (string)h!["text"]!));

    [Fact]
    public async Task A_markdown_file_is_cut_by_its_headings_found_by_words_and_meaning_and_replaced_as_a_whole()
    {
        await using var app = new AgentryApp();
        var detail = await KnowledgeFiles.AddAsync(app, "router-kb", KnowledgeFiles.File("router.md", KnowledgeFiles.Router));
        var document = detail["document"]!;
        Assert.Equal("indexed", (string?)document["status"]);
        Assert.Equal("markdown", (string?)document["format"]);
        Assert.Equal(1, (int)document["version"]!);
        var chunks = detail["chunks"]!.AsArray();
        Assert.Equal(["Router setup › Resetting your router", "Router setup › Changing the Wi-Fi password", "Billing › Refunds"],
            chunks.Select(c => (string)c!["section"]!).ToArray());
        // Each passage is the span of the document it says it is.
        foreach (var chunk in chunks)
            Assert.Equal((string)chunk!["text"]!, KnowledgeFiles.Router.ReplaceLineEndings("\n")[(int)chunk["start"]!..(int)chunk["end"]!]);

        var byWords = await KnowledgeFiles.SearchAsync(app, "router-kb", "reset router");
        Assert.StartsWith("To reset the router", (string?)byWords[0]!["text"]);
        Assert.Equal("router.md", (string?)byWords[0]!["document"]);
        // A paraphrase that shares no content word with the passage is found by its meaning.
        var byMeaning = await KnowledgeFiles.SearchAsync(app, "router-kb", "When will I get my money back?");
        Assert.StartsWith("Refunds are paid", (string?)byMeaning[0]!["text"]);
        Assert.Equal("meaning", (string?)byMeaning[0]!["match"]);
        Assert.Empty(await KnowledgeFiles.SearchAsync(app, "router-kb", "Who painted the Mona Lisa?"));

        // The same bytes again change nothing.
        var again = await app.Client.PostAsync("/v1/knowledge/router-kb/documents", KnowledgeFiles.File("router.md", KnowledgeFiles.Router));
        await Http.ExpectAsync(again, HttpStatusCode.OK);
        Assert.Equal(1, (int)(await Http.JsonAsync(again))["version"]!);

        // A new version replaces every passage of the old one.
        var changed = KnowledgeFiles.Router.Replace("10 seconds", "30 seconds").Replace("5 business days", "10 business days");
        var replaced = await KnowledgeFiles.AddAsync(app, "router-kb", KnowledgeFiles.File("router.md", changed));
        Assert.Equal(2, (int)replaced["document"]!["version"]!);
        Assert.Equal(2, (int)replaced["document"]!["indexedVersion"]!);
        var now = Texts(await KnowledgeFiles.SearchAsync(app, "router-kb", "how long do I hold the reset button", 10));
        Assert.Contains("30 seconds", now);
        Assert.DoesNotContain("10 seconds", now);
        Assert.Equal(3, await PassageRowsAsync(app, "router-kb")); // the old version's passages (and their vectors) are gone, not kept beside
        Assert.Equal(3, await VectorRowsAsync(app, "router-kb"));
    }

    [Fact]
    public async Task Text_html_and_pdf_documents_are_read_as_text_with_their_sections()
    {
        await using var app = new AgentryApp();
        var text = await KnowledgeFiles.AddAsync(app, "kb", Http.RawJson(new JsonObject
        {
            ["name"] = "opening-hours", ["text"] = "Our shop opens at 9 am.\n\nOn Sundays it is closed.",
        }.ToJsonString()));
        Assert.Equal("text", (string?)text["document"]!["format"]);
        Assert.Equal("", (string?)text["chunks"]![0]!["section"]);

        const string html = """
            <html><head><title>Shipping</title><script>alert('not text')</script><style>p { color: red }</style></head>
            <body><h2>Delivery times</h2><p>Parcels arrive within <b>three</b> working days.</p><ul><li>Express: next day</li></ul></body></html>
            """;
        var page = await KnowledgeFiles.AddAsync(app, "kb", KnowledgeFiles.File("shipping.html", html));
        var chunk = page["chunks"]![0]!;
        Assert.Equal("Shipping › Delivery times", (string?)chunk["section"]);
        Assert.Contains("Parcels arrive within three working days.", (string?)chunk["text"]);
        Assert.Contains("- Express: next day", (string?)chunk["text"]);
        Assert.DoesNotContain("alert", (string?)chunk["text"]);

        var pdf = await KnowledgeFiles.AddAsync(app, "kb", KnowledgeFiles.File("warranty.pdf", KnowledgeFiles.Pdf("Warranty terms", "Every device has a two year warranty.")));
        Assert.Equal("pdf", (string?)pdf["document"]!["format"]);
        Assert.Equal(["Page 1", "Page 2"], pdf["chunks"]!.AsArray().Select(c => (string)c!["section"]!).ToArray());
        var warranty = await KnowledgeFiles.SearchAsync(app, "kb", "how long is the guarantee on a device?");
        Assert.Equal("warranty.pdf", (string?)warranty[0]!["document"]);
        Assert.Equal("Page 2", (string?)warranty[0]!["section"]);
    }

    [Fact]
    public async Task A_long_section_is_cut_into_overlapping_passages_that_each_fit_the_budget()
    {
        await using var app = new AgentryApp(settings: new() { ["Knowledge:ChunkTokens"] = "60", ["Knowledge:ChunkOverlapTokens"] = "15" });
        var sentences = string.Join(" ", Enumerable.Range(1, 40).Select(i => $"Step {i} of the installation checks component number {i} carefully."));
        var detail = await KnowledgeFiles.AddAsync(app, "kb", KnowledgeFiles.File("install.md", $"# Installation\n\n{sentences}\n"));
        var chunks = detail["chunks"]!.AsArray();
        Assert.True(chunks.Count > 5, $"{chunks.Count} chunks");
        Assert.All(chunks, c => Assert.InRange((int)c!["tokens"]!, 1, 60));
        Assert.All(chunks, c => Assert.Equal("Installation", (string?)c!["section"]));
        for (var i = 1; i < chunks.Count; i++)
            Assert.True((int)chunks[i]!["start"]! < (int)chunks[i - 1]!["end"]!, "consecutive passages of a section overlap");
        Assert.Contains("Step 40 of the installation", (string?)chunks[^1]!["text"]);
    }

    [Fact]
    public async Task Bad_uploads_are_problems_that_say_what_is_wrong()
    {
        await using var app = new AgentryApp(settings: new() { ["Knowledge:MaxUploadBytes"] = "2048" });
        async Task<JsonObject> Refused(HttpContent content, int status, string type, string kb = "kb") =>
            await Http.ProblemAsync(await app.Client.PostAsync($"/v1/knowledge/{kb}/documents", content), status, type);

        Assert.Contains(".md, .txt, .html, .pdf", (string?)(await Refused(KnowledgeFiles.File("report.docx", "PK\u0003\u0004"), 415, ProblemTypes.DocumentFormatUnsupported))["detail"]);
        Assert.Contains("not UTF-8", (string?)(await Refused(KnowledgeFiles.File("notes.txt", [0x66, 0xff, 0xfe, 0x80]), 422, ProblemTypes.DocumentUnreadable))["detail"]);
        Assert.Contains("PDF cannot be read", (string?)(await Refused(KnowledgeFiles.File("broken.pdf", Encoding.ASCII.GetBytes("%PDF-1.7 not really")), 422, ProblemTypes.DocumentUnreadable))["detail"]);
        Assert.Contains("no text layer", (string?)(await Refused(KnowledgeFiles.File("scan.pdf", KnowledgeFiles.Pdf("")), 422, ProblemTypes.DocumentUnreadable))["detail"]);
        Assert.Contains("empty", (string?)(await Refused(KnowledgeFiles.File("blank.md", "  \n\n "), 422, ProblemTypes.DocumentUnreadable))["detail"]);
        await Refused(KnowledgeFiles.File("big.txt", new string('x', 10_000)), 413, ProblemTypes.PayloadTooLarge);
        await Refused(KnowledgeFiles.File("a.md", "# A"), 400, ProblemTypes.ValidationFailed, kb: "Not_A_Slug");
        var missingFile = new MultipartFormDataContent { { new StringContent("x"), "name" } };
        Assert.True((await Refused(missingFile, 400, ProblemTypes.ValidationFailed))["errors"]!.AsObject().ContainsKey("file"));
        var json = await Refused(Http.RawJson("""{"name":"x.md","text":""}"""), 400, ProblemTypes.ValidationFailed);
        Assert.True(json["errors"]!.AsObject().ContainsKey("text"));
        await Refused(Http.RawJson("""{"name":"x.md","text":"a","colour":"red"}"""), 400, ProblemTypes.InvalidJson);
        await Refused(new StringContent("just text", Encoding.UTF8, "text/plain"), 415, ProblemTypes.UnsupportedMediaType);

        await Http.ProblemAsync(await app.Client.GetAsync("/v1/knowledge/kb/documents/doc_01a2"), 404, ProblemTypes.DocumentNotFound);
        await Http.ProblemAsync(await app.Client.PostAsync("/v1/knowledge/nothing-here/search", Http.RawJson("""{"query":"anything"}""")), 404, ProblemTypes.KnowledgeBaseNotFound);
        await Http.ProblemAsync(await app.Client.PostAsync("/v1/knowledge/kb/search", Http.RawJson("""{"query":"x","topK":50}""")), 400, ProblemTypes.ValidationFailed);
        await Http.ProblemAsync(await app.Client.DeleteAsync("/v1/knowledge/nothing-here"), 404, ProblemTypes.KnowledgeBaseNotFound);
        Assert.DoesNotContain((await Http.JsonAsync(await app.Client.GetAsync("/v1/knowledge")))["data"]!.AsArray(), b => (string?)b!["name"] == "kb"); // nothing was stored
    }

    [Fact]
    public async Task Removing_a_document_or_a_knowledge_base_takes_its_passages_vectors_and_full_text_rows_with_it()
    {
        await using var app = new AgentryApp();
        var router = await KnowledgeFiles.AddAsync(app, "router-kb", KnowledgeFiles.File("router.md", KnowledgeFiles.Router));
        await KnowledgeFiles.AddAsync(app, "router-kb", KnowledgeFiles.File("hours.txt", "The help desk answers from 8 am to 6 pm."));
        await KnowledgeFiles.AddAsync(app, "other", KnowledgeFiles.File("x.txt", "Another knowledge base entirely."));
        var bases = (await Http.JsonAsync(await app.Client.GetAsync("/v1/knowledge")))["data"]!.AsArray();
        // help-center is the samples' (Agents:Samples); the test's own are listed by name.
        Assert.Equal(["other", "router-kb"], bases.Select(b => (string)b!["name"]!).Where(n => n != "help-center").ToArray());
        var routerKb = bases.Single(b => (string?)b!["name"] == "router-kb")!;
        Assert.Equal(2, (int)routerKb["documents"]!);
        Assert.Equal(4, (int)routerKb["chunks"]!);

        var id = (string)router["document"]!["id"]!;
        await Http.ExpectAsync(await app.Client.DeleteAsync($"/v1/knowledge/router-kb/documents/{id}"), HttpStatusCode.NoContent);
        await Http.ProblemAsync(await app.Client.GetAsync($"/v1/knowledge/router-kb/documents/{id}"), 404, ProblemTypes.DocumentNotFound);
        Assert.Empty(await KnowledgeFiles.SearchAsync(app, "router-kb", "reset router"));
        Assert.Equal(1, await PassageRowsAsync(app, "router-kb"));
        Assert.Equal(1, await VectorRowsAsync(app, "router-kb"));

        await Http.ExpectAsync(await app.Client.DeleteAsync("/v1/knowledge/router-kb"), HttpStatusCode.NoContent);
        Assert.Equal(0, await PassageRowsAsync(app, "router-kb"));
        Assert.Equal(1, await PassageRowsAsync(app, "other")); // the other knowledge base is untouched
        Assert.Equal(0, await VectorRowsAsync(app, "router-kb"));
        Assert.DoesNotContain("router-kb", (await Http.JsonAsync(await app.Client.GetAsync("/v1/knowledge")))["data"]!.AsArray().Select(b => (string)b!["name"]!));
        var audit = await app.AuditEventsAsync("knowledge.document.removed");
        Assert.Single(audit);
    }

    [Fact]
    public async Task Documents_are_listed_a_page_at_a_time_and_filtered_by_status()
    {
        await using var app = new AgentryApp();
        for (var i = 0; i < 3; i++) await KnowledgeFiles.AddAsync(app, "kb", KnowledgeFiles.File($"doc-{i}.txt", $"Document number {i} talks about topic {i}."));
        var first = await Http.JsonAsync(await app.Client.GetAsync("/v1/knowledge/kb/documents?limit=2"));
        Assert.Equal(["doc-0.txt", "doc-1.txt"], first["data"]!.AsArray().Select(d => (string)d!["name"]!).ToArray());
        var second = await Http.JsonAsync(await app.Client.GetAsync($"/v1/knowledge/kb/documents?limit=2&cursor={first["nextCursor"]}"));
        Assert.Equal(["doc-2.txt"], second["data"]!.AsArray().Select(d => (string)d!["name"]!).ToArray());
        Assert.Null(second["nextCursor"]);
        Assert.Equal(3, (await Http.JsonAsync(await app.Client.GetAsync("/v1/knowledge/kb/documents?status=indexed")))["data"]!.AsArray().Count);
        await Http.ProblemAsync(await app.Client.GetAsync("/v1/knowledge/kb/documents?status=done"), 400, ProblemTypes.ValidationFailed);
    }

    [Fact]
    public async Task Only_knowledge_writers_change_documents_and_readers_of_agents_may_search_them()
    {
        await using var app = new AgentryApp();
        var writer = app.CreateApiClient((await app.CreateKeyAsync("docs", ["knowledge:write"])).Secret);
        var reader = app.CreateApiClient((await app.CreateKeyAsync("reader", ["read"])).Secret);
        var chat = app.CreateApiClient((await app.CreateKeyAsync("chat", ["chat"])).Secret);
        var added = await writer.PostAsync("/v1/knowledge/kb/documents", KnowledgeFiles.File("faq.md", "# FAQ\n\nWe ship worldwide."));
        await Http.ExpectAsync(added, HttpStatusCode.Accepted);
        await Http.ProblemAsync(await reader.PostAsync("/v1/knowledge/kb/documents", KnowledgeFiles.File("x.md", "# X")), 403, ProblemTypes.Forbidden);
        await Http.ExpectAsync(await reader.GetAsync("/v1/knowledge/kb/documents"), HttpStatusCode.OK);
        await Http.ProblemAsync(await chat.GetAsync("/v1/knowledge"), 403, ProblemTypes.Forbidden);
        // The shipped help-center may be indexing meanwhile (its own audit events): this document's event is among them,
        // once the audit writer has chained it (events are staged with the change and chained in the background).
        var id = (string?)(await Http.JsonAsync(added))["id"];
        await Wait.UntilAsync(async () => (await Http.JsonAsync(await app.Client.GetAsync("/v1/admin/audit?action=knowledge.document.added&limit=100")))["data"]!.AsArray()
            .Any(e => ((string)e!["target"]!).Split('/')[1] == id), TimeSpan.FromSeconds(30), because: "the document's audit event is written");
    }

    static async Task<int> PassageRowsAsync(AgentryApp app, string kb) =>
        Convert.ToInt32(await TestDatabase.ScalarAsync(app.DataDirectory, $"SELECT count(*) FROM knowledge_chunks WHERE knowledge_base = '{kb}'", readOnly: true),
            System.Globalization.CultureInfo.InvariantCulture);

    static async Task<int> VectorRowsAsync(AgentryApp app, string kb) =>
        Convert.ToInt32(await TestDatabase.ScalarAsync(app.DataDirectory, $"SELECT count(*) FROM embeddings WHERE collection = 'kb:{kb}'", readOnly: true),
            System.Globalization.CultureInfo.InvariantCulture);
}
