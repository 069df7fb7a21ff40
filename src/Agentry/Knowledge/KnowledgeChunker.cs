using System.Text.RegularExpressions;
using Agentry.Models;
using Markdig;
using Markdig.Extensions.Yaml;
using Markdig.Syntax;

namespace Agentry.Knowledge;

/// <summary>A passage cut from a document, before it is stored.</summary>
public sealed record ChunkDraft(int Ordinal, string SectionPath, int Start, int End, string Text, int Tokens);

/// <summary>
/// Cuts a document along its structure: sections (Markdown and HTML headings, PDF pages), then paragraphs, list items and
/// code blocks, joined while they fit <c>maxTokens</c> and never across sections. A block too long on its own is cut at
/// sentences, and a sentence too long at words. Consecutive chunks of a section overlap by about <c>overlapTokens</c>,
/// so a sentence at a border is found whole. Every chunk is a span of the document's text, measured in o200k tokens.
/// </summary>
public static partial class KnowledgeChunker
{
    public const string SectionSeparator = " › ";

    static readonly MarkdownPipeline Pipeline = new MarkdownPipelineBuilder().UseYamlFrontMatter().Build();

    sealed record Block(int Start, int End, string Section);

    public static IReadOnlyList<ChunkDraft> Cut(ExtractedDocument document, int maxTokens, int overlapTokens)
    {
        var text = document.Text;
        var blocks = document.Format switch
        {
            DocumentReader.Markdown or DocumentReader.Html => MarkdownBlocks(text),
            DocumentReader.Pdf => PdfBlocks(text),
            _ => Paragraphs(text, 0, text.Length, ""),
        };
        var chunks = new List<ChunkDraft>();
        (int Start, int End, string Section)? current = null;
        (int Start, int End, string Section)? previous = null;

        void Emit(int start, int end, string section)
        {
            (start, end) = Trim(text, start, end);
            if (end <= start) return;
            var slice = text[start..end];
            chunks.Add(new ChunkDraft(chunks.Count, section, start, end, slice, Tokens.Count(slice)));
            previous = (start, end, section);
        }

        void Flush()
        {
            if (current is { } c) Emit(c.Start, c.End, c.Section);
            current = null;
        }

        // Where a new chunk of the same section starts: a little before the end of the one it follows.
        int StartAfter(int blockStart, string section) =>
            previous is { } p && p.Section == section && overlapTokens > 0 ? Math.Min(blockStart, OverlapStart(text, p.Start, p.End, overlapTokens)) : blockStart;

        foreach (var block in blocks)
        {
            if (current is { } open && open.Section != block.Section) Flush();
            var blockTokens = Tokens.Count(text.AsSpan(block.Start, block.End - block.Start).ToString());
            if (current is { } c && Tokens.Count(text[c.Start..block.End]) <= maxTokens)
            {
                current = (c.Start, block.End, c.Section);
                continue;
            }
            Flush();
            if (blockTokens <= maxTokens)
            {
                var start = StartAfter(block.Start, block.Section);
                current = Tokens.Count(text[start..block.End]) <= maxTokens ? (start, block.End, block.Section) : (block.Start, block.End, block.Section);
                continue;
            }
            foreach (var (start, end) in Pieces(text, block.Start, block.End, maxTokens, overlapTokens))
                Emit(start, end, block.Section);
        }
        Flush();
        return chunks;
    }

    /// <summary>Top-level blocks under their headings; list items one by one; YAML front matter left out.</summary>
    static List<Block> MarkdownBlocks(string text)
    {
        var document = Markdig.Markdown.Parse(text, Pipeline);
        var headings = new List<(int Level, string Title)>();
        var blocks = new List<Block>();
        string Section() => string.Join(SectionSeparator, headings.Select(h => h.Title));

        void Add(Markdig.Syntax.Block block)
        {
            switch (block)
            {
                case YamlFrontMatterBlock:
                    return;
                case HeadingBlock heading:
                    headings.RemoveAll(h => h.Level >= heading.Level);
                    headings.Add((heading.Level, HeadingTitle(text, heading)));
                    return;
                case ListBlock list:
                    foreach (var item in list) Add(item);
                    return;
                default:
                    if (block.Span.IsEmpty) return;
                    blocks.Add(new Block(block.Span.Start, Math.Min(text.Length, block.Span.End + 1), Section()));
                    return;
            }
        }

        foreach (var block in document) Add(block);
        return blocks;
    }

    static string HeadingTitle(string text, HeadingBlock heading)
    {
        var line = text.AsSpan(heading.Span.Start, Math.Min(text.Length, heading.Span.End + 1) - heading.Span.Start).ToString().Split('\n')[0];
        return line.Trim().Trim('#').Trim();
    }

    static List<Block> PdfBlocks(string text)
    {
        var blocks = new List<Block>();
        var start = 0;
        var page = 1;
        for (var i = 0; i <= text.Length; i++)
        {
            if (i < text.Length && text[i] != DocumentReader.PageBreak) continue;
            blocks.AddRange(Paragraphs(text, start, i, $"Page {page}"));
            start = i + 1;
            page++;
        }
        return blocks;
    }

    /// <summary>Paragraphs (runs of lines between blank lines) of text[start..end].</summary>
    static IEnumerable<Block> Paragraphs(string text, int start, int end, string section)
    {
        var at = start;
        foreach (Match gap in BlankLines().Matches(text[start..end]))
        {
            if (start + gap.Index > at) yield return new Block(at, start + gap.Index, section);
            at = start + gap.Index + gap.Length;
        }
        if (end > at) yield return new Block(at, end, section);
    }

    /// <summary>A block too long for one chunk, as overlapping spans that each fit: cut at sentence ends, or at words.</summary>
    static IEnumerable<(int Start, int End)> Pieces(string text, int start, int end, int maxTokens, int overlapTokens)
    {
        var cuts = Cuts(text, start, end);
        var pieceStart = start;
        var lastEnd = start;
        while (lastEnd < end)
        {
            var pieceEnd = FurthestCut(pieceStart);
            if (pieceEnd <= lastEnd)
            {
                // The overlap left no room for anything new: go on from the end without it.
                pieceStart = lastEnd;
                pieceEnd = FurthestCut(pieceStart);
            }
            yield return (pieceStart, pieceEnd);
            lastEnd = pieceEnd;
            var next = overlapTokens > 0 ? OverlapStart(text, pieceStart, pieceEnd, overlapTokens) : pieceEnd;
            pieceStart = next > pieceStart ? next : pieceEnd;
        }

        // The furthest cut that keeps a piece from `from` within the budget; at least one word.
        int FurthestCut(int from)
        {
            var furthest = -1;
            foreach (var cut in cuts)
            {
                if (cut <= from) continue;
                if (Tokens.Count(text[from..cut]) > maxTokens) break;
                furthest = cut;
            }
            return furthest >= 0 ? furthest : cuts.FirstOrDefault(c => c > from, end);
        }
    }

    /// <summary>Sentence ends in text[start..end], then word ends: the places a piece may end.</summary>
    static List<int> Cuts(string text, int start, int end)
    {
        var slice = text[start..end];
        var sentences = SentenceEnds().Matches(slice).Select(m => start + m.Index + m.Length).ToList();
        var words = WordEnds().Matches(slice).Select(m => start + m.Index + m.Length).ToList();
        // Sentence ends where they are close enough together, otherwise every word end.
        var cuts = new SortedSet<int>(sentences) { end };
        var last = start;
        foreach (var cut in cuts.ToList())
        {
            if (cut - last > 600) foreach (var word in words.Where(w => w > last && w < cut)) cuts.Add(word);
            last = cut;
        }
        return [.. cuts];
    }

    /// <summary>Where the last ~overlapTokens tokens of text[start..end] begin: the start of a sentence, or of a word.</summary>
    static int OverlapStart(string text, int start, int end, int overlapTokens)
    {
        var best = end;
        foreach (var cut in Cuts(text, start, end).Where(c => c < end).Reverse())
        {
            if (Tokens.Count(text[cut..end]) > overlapTokens) break;
            best = cut;
        }
        while (best < end && char.IsWhiteSpace(text[best])) best++;
        return best;
    }

    static (int Start, int End) Trim(string text, int start, int end)
    {
        while (start < end && char.IsWhiteSpace(text[start])) start++;
        while (end > start && char.IsWhiteSpace(text[end - 1])) end--;
        return (start, end);
    }

    [GeneratedRegex(@"\n[ \t]*\n\s*")]
    private static partial Regex BlankLines();

    [GeneratedRegex(@"[.!?…][""')\]]*(?=\s)|\n")]
    private static partial Regex SentenceEnds();

    [GeneratedRegex(@"\S+")]
    private static partial Regex WordEnds();
}
