namespace Agentry.Agents;

/// <summary>
/// The lines that differ between two texts, as a unified diff without headers: "- " removed, "+ " added, "  " kept
/// around a change (one line of context). Agent definitions are tens of lines, so the longest-common-subsequence table
/// is small.
/// </summary>
public static class LineDiff
{
    /// <summary>Most cells of the comparison table (about 16 MB): beyond it the changed middle is shown removed, then added.</summary>
    const long MaxCells = 4_000_000;

    public static IReadOnlyList<string> Between(string before, string after)
    {
        var a = before.Split('\n');
        var b = after.Split('\n');
        // Edits are usually in one place: the common head and tail are matched first, cheaply.
        var head = 0;
        while (head < a.Length && head < b.Length && a[head] == b[head]) head++;
        var tail = 0;
        while (tail < a.Length - head && tail < b.Length - head && a[^(tail + 1)] == b[^(tail + 1)]) tail++;
        var lines = new List<(char Mark, string Text)>();
        lines.AddRange(a[..head].Select(l => (' ', l)));
        lines.AddRange(Middle(a[head..^tail], b[head..^tail]));
        lines.AddRange(a[^tail..].Select(l => (' ', l)));
        // Unchanged lines are kept only next to a change.
        return lines.Where((line, i) => line.Mark != ' ' || (i > 0 && lines[i - 1].Mark != ' ') || (i + 1 < lines.Count && lines[i + 1].Mark != ' '))
            .Select(l => $"{l.Mark} {l.Text}").ToList();
    }

    static List<(char Mark, string Text)> Middle(string[] a, string[] b)
    {
        var lines = new List<(char Mark, string Text)>();
        if ((long)(a.Length + 1) * (b.Length + 1) > MaxCells)
        {
            lines.AddRange(a.Select(l => ('-', l)));
            lines.AddRange(b.Select(l => ('+', l)));
            return lines;
        }
        var common = new int[a.Length + 1, b.Length + 1];
        for (var i = a.Length - 1; i >= 0; i--)
            for (var j = b.Length - 1; j >= 0; j--)
                common[i, j] = a[i] == b[j] ? common[i + 1, j + 1] + 1 : Math.Max(common[i + 1, j], common[i, j + 1]);
        int x = 0, y = 0;
        while (x < a.Length || y < b.Length)
        {
            if (x < a.Length && y < b.Length && a[x] == b[y])
            {
                lines.Add((' ', a[x]));
                x++;
                y++;
            }
            else if (x < a.Length && (y == b.Length || common[x + 1, y] >= common[x, y + 1])) lines.Add(('-', a[x++])); // removed before added, as diff prints
            else lines.Add(('+', b[y++]));
        }
        return lines;
    }
}
