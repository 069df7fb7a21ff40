using System.Text;
using AngleSharp.Dom;
using AngleSharp.Html.Parser;
using UglyToad.PdfPig;
using UglyToad.PdfPig.DocumentLayoutAnalysis.TextExtractor;

namespace Agentry.Knowledge;

/// <summary>A file's text as Agentry keeps it: Markdown (also for HTML, whose headings become Markdown headings), plain text, or a PDF's pages separated by form feeds.</summary>
public sealed record ExtractedDocument(string Format, string Text);

/// <summary>Why a file cannot be a document.</summary>
public enum DocumentProblem { Unreadable, UnsupportedFormat, TooLarge }

/// <summary>A file Agentry cannot take as a document: its format, its size, or its content (not UTF-8, a PDF without a text layer, empty).</summary>
public sealed class DocumentUnreadableException(string message, DocumentProblem problem = DocumentProblem.Unreadable) : Exception(message)
{
    public DocumentProblem Problem { get; } = problem;
}

/// <summary>Reads Markdown (Markdig parses it when it is cut), plain text, HTML (AngleSharp: text only) and PDF text (PdfPig).</summary>
public static class DocumentReader
{
    public const string Markdown = "markdown";
    public const string PlainText = "text";
    public const string Html = "html";
    public const string Pdf = "pdf";
    public static readonly IReadOnlyList<string> Formats = [Markdown, PlainText, Html, Pdf];

    /// <summary>Separates a PDF's pages in its extracted text.</summary>
    public const char PageBreak = '\f';

    static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>The format a file name's extension says, or null.</summary>
    public static string? FormatOf(string name) => Path.GetExtension(name).ToLowerInvariant() switch
    {
        ".md" or ".markdown" or ".mdx" => Markdown,
        ".txt" or ".text" => PlainText,
        ".html" or ".htm" => Html,
        ".pdf" => Pdf,
        _ => null,
    };

    /// <summary>The format of a declared media type (a multipart part's Content-Type), or null.</summary>
    public static string? FormatOfMediaType(string? mediaType) => mediaType?.Split(';')[0].Trim().ToLowerInvariant() switch
    {
        "text/markdown" or "text/x-markdown" => Markdown,
        "text/plain" => PlainText,
        "text/html" or "application/xhtml+xml" => Html,
        "application/pdf" => Pdf,
        _ => null,
    };

    public static ExtractedDocument Read(string format, ReadOnlySpan<byte> bytes, int maxChars)
    {
        var text = format switch
        {
            Markdown or PlainText => Utf8(bytes),
            Html => HtmlToMarkdown(Utf8(bytes)),
            Pdf => PdfText(bytes),
            _ => throw new DocumentUnreadableException($"'{format}' is not a document format Agentry reads; use {string.Join(", ", Formats)}.", DocumentProblem.UnsupportedFormat),
        };
        text = text.Replace("\r\n", "\n").Replace('\r', '\n');
        if (string.IsNullOrWhiteSpace(text.Replace(PageBreak, ' ')))
            throw new DocumentUnreadableException(format == Pdf
                ? "The PDF has no text layer (a scan?): run it through OCR first, or add its text as a text document."
                : "The document is empty.");
        if (text.Length > maxChars)
            throw new DocumentUnreadableException($"The document's text is {text.Length:N0} characters; at most {maxChars:N0} are accepted (Knowledge:MaxDocumentChars). Split it into several documents.",
                DocumentProblem.TooLarge);
        return new ExtractedDocument(format, text);
    }

    static string Utf8(ReadOnlySpan<byte> bytes)
    {
        if (bytes.StartsWith("\uFEFF"u8)) bytes = bytes[3..];
        string text;
        try
        {
            text = StrictUtf8.GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            throw new DocumentUnreadableException("The file is not UTF-8 text. Save it as UTF-8, or upload the original PDF or HTML.");
        }
        if (text.Contains('\0')) throw new DocumentUnreadableException("The file holds binary data (NUL characters), not text.");
        return text;
    }

    /// <summary>The visible text of a page: headings as Markdown headings, block elements as paragraphs, list items as "- ".</summary>
    static string HtmlToMarkdown(string html)
    {
        var document = new HtmlParser().ParseDocument(html);
        var title = document.Title; // read before the head goes
        foreach (var hidden in document.QuerySelectorAll("script, style, noscript, template, svg, head").ToList()) hidden.Remove();
        var output = new StringBuilder();
        if (document.QuerySelector("h1") is null && title is { Length: > 0 }) output.Append("# ").Append(Clean(title)).Append("\n\n");
        Walk(document.Body ?? (INode)document.DocumentElement, output);
        return output.ToString().Trim() + "\n";
    }

    static readonly HashSet<string> Blocks = ["P", "DIV", "SECTION", "ARTICLE", "MAIN", "ASIDE", "HEADER", "FOOTER", "NAV", "BLOCKQUOTE", "PRE", "TABLE", "TR", "UL", "OL", "DL", "DT", "DD", "FIGURE", "FIGCAPTION", "ADDRESS", "FORM", "FIELDSET", "DETAILS", "SUMMARY"];

    static void Walk(INode node, StringBuilder output)
    {
        foreach (var child in node.ChildNodes)
        {
            if (child is IText text)
            {
                var value = Clean(text.Data);
                if (value.Length > 0)
                {
                    if (output.Length > 0 && !char.IsWhiteSpace(output[^1])) output.Append(' ');
                    output.Append(value);
                }
                continue;
            }
            if (child is not IElement element) continue;
            var tag = element.TagName;
            if (tag.Length == 2 && tag[0] == 'H' && tag[1] is >= '1' and <= '6')
            {
                Break(output);
                output.Append('#', tag[1] - '0').Append(' ').Append(Clean(element.TextContent)).Append("\n\n");
            }
            else if (tag == "LI")
            {
                EndLine(output);
                output.Append("- ");
                Walk(element, output);
                output.Append('\n');
            }
            else if (tag == "BR") output.Append('\n');
            else if (tag is "TD" or "TH")
            {
                Walk(element, output);
                output.Append(" | ");
            }
            else if (Blocks.Contains(tag))
            {
                Break(output);
                Walk(element, output);
                Break(output);
            }
            else Walk(element, output);
        }
    }

    static string Clean(string text) => string.Join(' ', text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));

    static void EndLine(StringBuilder output)
    {
        if (output.Length > 0 && output[^1] != '\n') output.Append('\n');
    }

    static void Break(StringBuilder output)
    {
        if (output.Length == 0) return;
        EndLine(output);
        if (output.Length < 2 || output[^2] != '\n') output.Append('\n');
    }

    static string PdfText(ReadOnlySpan<byte> bytes)
    {
        try
        {
            using var pdf = PdfDocument.Open(bytes.ToArray());
            return string.Join(PageBreak, pdf.GetPages().Select(page => ContentOrderTextExtractor.GetText(page).Trim()));
        }
        catch (Exception e) when (e is not DocumentUnreadableException and not OutOfMemoryException)
        {
            // PdfPig throws its own types for damaged, encrypted or non-PDF input; the user needs to know it is the file.
            throw new DocumentUnreadableException($"The PDF cannot be read ({e.GetType().Name}: {e.Message}).");
        }
    }
}
