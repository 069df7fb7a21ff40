namespace Agentry.Readiness;

/// <summary>How ready the running configuration and data are for production: a score out of 100, by category, and every check.</summary>
public sealed record ReadinessReport(int Score, IReadOnlyList<ReadinessCategory> Categories, IReadOnlyList<ReadinessCheck> Checks, DateTimeOffset CheckedAt)
{
    public static ReadinessReport From(IReadOnlyList<ReadinessCheck> checks, DateTimeOffset at)
    {
        var categories = checks.GroupBy(c => c.Category)
            .Select(g => new ReadinessCategory(g.Key, g.Where(c => c.Passed).Sum(c => c.Weight), g.Sum(c => c.Weight)))
            .ToList();
        var total = checks.Sum(c => c.Weight);
        var score = total == 0 ? 0 : (int)Math.Floor(100.0 * checks.Where(c => c.Passed).Sum(c => c.Weight) / total);
        return new ReadinessReport(score, categories, checks, at);
    }
}

/// <summary>Points earned out of points possible in one category (Security, Monitoring, Operations, Reliability).</summary>
public sealed record ReadinessCategory(string Name, int Points, int MaxPoints);

/// <summary>One item of the checklist: what was found, and for a failed one the setting or command that fixes it.</summary>
public sealed record ReadinessCheck(string Id, string Category, string Title, bool Passed, int Weight, string Found, string? Fix);
