using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;

namespace Agentry.Tests.Knowledge;

/// <summary>Documents for the knowledge tests, and the calls that add and wait for them.</summary>
public static class KnowledgeFiles
{
    public const string Router = """
        # Router setup

        ## Resetting your router

        To reset the router to factory settings, press and hold the reset button on the back for 10 seconds until the lights blink.
        The router restarts with the default Wi-Fi name and password printed on its label.

        ## Changing the Wi-Fi password

        Open http://192.168.1.1 in a browser, sign in with the admin password and choose Wireless > Security.
        Type the new password twice and select Save. Devices must reconnect with the new password.

        # Billing

        ## Refunds

        Refunds are paid to the original payment method within 5 business days.
        """;

    public static MultipartFormDataContent File(string name, byte[] content, string? mediaType = null, string? format = null)
    {
        var form = new MultipartFormDataContent();
        var file = new ByteArrayContent(content);
        if (mediaType is not null) file.Headers.ContentType = new MediaTypeHeaderValue(mediaType);
        form.Add(file, "file", name);
        if (format is not null) form.Add(new StringContent(format), "format");
        return form;
    }

    public static MultipartFormDataContent File(string name, string text) => File(name, Encoding.UTF8.GetBytes(text));

    /// <summary>Adds a document and waits until it is indexed; returns the document.</summary>
    public static async Task<JsonObject> AddAsync(AgentryApp app, string kb, HttpContent content)
    {
        var response = await app.Client.PostAsync($"/v1/knowledge/{kb}/documents", content);
        if (response.StatusCode != HttpStatusCode.OK) await Http.ExpectAsync(response, HttpStatusCode.Accepted);
        var document = await Http.JsonAsync(response);
        return await IndexedAsync(app, kb, (string)document["id"]!);
    }

    /// <summary>Waits until the help-center shipped with the sample agents is indexed (it is synced at start).</summary>
    public static Task ShippedHelpCenterAsync(AgentryApp app) => ShippedHelpCenterAsync(app.Client);

    public static async Task ShippedHelpCenterAsync(HttpClient client) =>
    await Wait.UntilAsync(async () =>
            {
                var bases = (await Http.JsonAsync(await client.GetAsync("/v1/knowledge")))["data"]!.AsArray();
                return bases.Any(b => (string?)b!["name"] == "help-center" && (int)b["documents"]! == 14 && (int)b["queued"]! == 0);
            }, TimeSpan.FromSeconds(60), because: "the help-center is indexed at start");

    public static async Task<JsonObject> IndexedAsync(AgentryApp app, string kb, string id)
    {
        JsonObject? detail = null;
        await Wait.UntilAsync(async () =>
        {
            detail = await Http.JsonAsync(await app.Client.GetAsync($"/v1/knowledge/{kb}/documents/{id}"));
            return (string?)detail["document"]!["status"] is "indexed" or "failed";
        }, TimeSpan.FromSeconds(30), because: $"{id} is indexed");
        return detail!;
    }

    public static async Task<JsonArray> SearchAsync(AgentryApp app, string kb, string query, int topK = 5)
    {
        var response = await app.Client.PostAsync($"/v1/knowledge/{kb}/search", Http.RawJson(new JsonObject { ["query"] = query, ["topK"] = topK }.ToJsonString()));
        await Http.ExpectAsync(response, HttpStatusCode.OK);
        return (await Http.JsonAsync(response))["data"]!.AsArray();
    }

    /// <summary>A real PDF with a text layer, one page per string (PdfPig's writer, standard Helvetica).</summary>
    public static byte[] Pdf(params string[] pages)
    {
        var builder = new UglyToad.PdfPig.Writer.PdfDocumentBuilder();
        var font = builder.AddStandard14Font(UglyToad.PdfPig.Fonts.Standard14Fonts.Standard14Font.Helvetica);
        foreach (var text in pages)
        {
            var page = builder.AddPage(UglyToad.PdfPig.Content.PageSize.A4);
            var y = 800.0;
            foreach (var line in text.Split('\n'))
            {
                page.AddText(line, 11, new UglyToad.PdfPig.Core.PdfPoint(50, y), font);
                y -= 16;
            }
        }
        return builder.Build();
    }
}
