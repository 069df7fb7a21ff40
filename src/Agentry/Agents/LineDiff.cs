namespace Agentry.Agents;

/// <summary>
/// The lines that differ between two texts, as a unified diff without headers: "- " removed, "+ " added, "  " kept
/// around a change (one line of context). Agent definitions are tens of lines, so the longest-common-subsequence table
/// is small.
/// </summary>
public static class LineDiff
{
    public static IReadOnlyList<string> Between(string before, string after)
    {
        var a = before.Split('\n');
        var b = after.Split('\n');
        var common = new int[a.Length + 1, b.Length + 1];
        for (var i = a.Length - 1; i >= 0; i--)
            for (var j = b.Length - 1; j >= 0; j--)
                common[i, j] = a[i] == b[j] ? common[i + 1, j + 1] + 1 : Math.Max(common[i + 1, j], common[i, j + 1]);

        var lines = new List<(char Mark, string Text)>();
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
        // Unchanged lines are kept only next to a change.
        return lines.Where((line, i) => line.Mark != ' ' || (i > 0 && lines[i - 1].Mark != ' ') || (i + 1 < lines.Count && lines[i + 1].Mark != ' '))
            .Select(l => $"{l.Mark} {l.Text}").ToList();
    }
}
