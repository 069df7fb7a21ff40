using System.Text.RegularExpressions;

namespace Agentry.Api;

/// <summary>A request body that checks itself; <see cref="ValidationFilter"/> runs it before the handler.</summary>
public interface IValidatable
{
    void Validate(ValidationErrors errors);
}

/// <summary>Collects field-level errors keyed by the camelCase JSON path of the field.</summary>
public sealed partial class ValidationErrors
{
    readonly Dictionary<string, List<string>> _errors = new(StringComparer.Ordinal);

    public bool IsEmpty => _errors.Count == 0;

    public void Add(string field, string message)
    {
        if (!_errors.TryGetValue(field, out var list)) _errors[field] = list = [];
        list.Add(message);
    }

    public IDictionary<string, string[]> ToDictionary() => _errors.ToDictionary(e => e.Key, e => e.Value.ToArray(), StringComparer.Ordinal);

    public void Required(string field, string? value, int maxLength)
    {
        if (string.IsNullOrWhiteSpace(value)) Add(field, "Required.");
        else MaxLength(field, value, maxLength);
    }

    public void MaxLength(string field, string? value, int maxLength)
    {
        if (value is not null && value.Length > maxLength) Add(field, $"Must be at most {maxLength} characters (got {value.Length}).");
    }

    /// <summary>
    /// PostgreSQL cannot store U+0000 in text. JSON bodies are refused at the edge (<see cref="NoNulStringConverter"/>);
    /// this covers the doors that do not read JSON bodies (MCP tool arguments).
    /// </summary>
    public void NoNul(string field, string? value)
    {
        if (value is not null && value.Contains('\0')) Add(field, "Must not contain the NUL character (\\u0000).");
    }

    public void Slug(string field, string? value, bool required = true)
    {
        if (value is null) { if (required) Add(field, "Required."); return; }
        if (!SlugPattern().IsMatch(value)) Add(field, "Must be 1-64 characters of a-z, 0-9 and '-'.");
    }

    public void Range(string field, double? value, double min, double max)
    {
        if (value is { } v && (double.IsNaN(v) || v < min || v > max)) Add(field, $"Must be between {min} and {max}.");
    }

    public void Count<T>(string field, IReadOnlyCollection<T>? items, int max)
    {
        if (items is not null && items.Count > max) Add(field, $"Must have at most {max} items (got {items.Count}).");
    }

    public static bool IsSlug(string? value) => value is not null && SlugPattern().IsMatch(value);

    [GeneratedRegex("^[a-z0-9-]{1,64}$")]
    private static partial Regex SlugPattern();
}

/// <summary>Runs <see cref="IValidatable.Validate"/> on every body argument and answers 400 with field errors.</summary>
public sealed class ValidationFilter : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        foreach (var argument in context.Arguments)
        {
            if (argument is not IValidatable validatable) continue;
            var errors = new ValidationErrors();
            validatable.Validate(errors);
            if (!errors.IsEmpty) return Problems.Validation(errors.ToDictionary());
        }
        return await next(context);
    }
}
