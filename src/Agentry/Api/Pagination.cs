namespace Agentry.Api;

/// <summary>One page of a cursor-paginated list: pass <c>nextCursor</c> back as <c>cursor</c> for the next page.</summary>
public sealed record Page<T>(IReadOnlyList<T> Data, string? NextCursor);

public static class Pagination
{
    public const int DefaultLimit = 50;
    public const int MaxLimit = 200;

    /// <summary>Checks the <c>limit</c> query value; null means "use the default".</summary>
    public static bool TryGetLimit(int? requested, out int limit, out ValidationErrors errors)
    {
        errors = new ValidationErrors();
        limit = requested ?? DefaultLimit;
        if (limit is < 1 or > MaxLimit) errors.Add("limit", $"Must be between 1 and {MaxLimit}.");
        return errors.IsEmpty;
    }

    /// <summary>Builds a page from up to <paramref name="limit"/> + 1 fetched rows; the extra row only signals that more exist.</summary>
    public static Page<TDto> ToPage<TRow, TDto>(IReadOnlyList<TRow> rows, int limit, Func<TRow, TDto> map, Func<TRow, string> cursorOf)
    {
        var hasMore = rows.Count > limit;
        var pageRows = hasMore ? rows.Take(limit).ToList() : rows;
        return new Page<TDto>(pageRows.Select(map).ToList(), hasMore ? cursorOf(pageRows[^1]) : null);
    }
}
