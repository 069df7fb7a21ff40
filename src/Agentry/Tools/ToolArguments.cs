using System.Globalization;
using System.Text.Json;
using Agentry.Api;
using Microsoft.Extensions.AI;

namespace Agentry.Tools;

/// <summary>What a policy found in the argument that carries its amount.</summary>
public readonly record struct AmountReading(decimal? Value, string? Problem)
{
    public static AmountReading Missing(string argument) => new(null, $"the '{argument}' argument is missing");
    public static AmountReading Invalid(string argument, string raw) => new(null, $"'{argument}' is not a number ({Shorten(raw)})");

    static string Shorten(string raw) => raw.Length <= 40 ? raw : raw[..40] + "…";
}

/// <summary>
/// A tool call's arguments exactly as the tool receives them. Models send numbers as strings ("1e2", "250"); a tool's
/// binder accepts that (Microsoft.Extensions.AI reads numbers from strings), so a control that parsed the text its own
/// way would see another value than the tool acts on. Instead the arguments are normalised once, before any rule,
/// policy or approval looks at them: where the tool's schema declares a number, a string is converted with the binder's
/// own reader, and everyone (rules, policies, the approval a human reads, the ledger, the tool) gets that same value.
/// </summary>
public static class ToolArguments
{
    /// <summary>The serializer options the function binder reads arguments with (Microsoft.Extensions.AI's defaults).</summary>
    static JsonSerializerOptions BinderOptions => AIJsonUtilities.DefaultOptions;

    /// <summary>The arguments with numbers-as-strings converted where <paramref name="schema"/> (the tool's parameters) declares a number.</summary>
    public static Dictionary<string, object?> Normalize(IDictionary<string, object?>? arguments, JsonElement? schema)
    {
        var normalized = new Dictionary<string, object?>(StringComparer.Ordinal);
        if (arguments is null) return normalized;
        var properties = schema is { ValueKind: JsonValueKind.Object } s && s.TryGetProperty("properties", out var p) && p.ValueKind == JsonValueKind.Object ? p : (JsonElement?)null;
        foreach (var (name, value) in arguments)
        {
            normalized[name] = properties is { } declared && declared.TryGetProperty(name, out var property) && IsNumeric(property, out var integer)
                && ToDecimal(value) is { } number && (!integer || number == decimal.Truncate(number))
                ? JsonSerializer.SerializeToElement(Normal(number))
                : value;
        }
        return normalized;
    }

    /// <summary>
    /// The amount in <paramref name="argument"/> read as the binder reads a <see cref="decimal"/> parameter; a missing or
    /// unreadable value is a problem the policy refuses on (fail closed), never "no amount".
    /// </summary>
    public static AmountReading Amount(IDictionary<string, object?> arguments, string argument)
    {
        if (!arguments.TryGetValue(argument, out var value) || value is null || value is JsonElement { ValueKind: JsonValueKind.Null })
            return AmountReading.Missing(argument);
        return ToDecimal(value) is { } number ? new AmountReading(Normal(number), null) : AmountReading.Invalid(argument, Raw(value));
    }

    /// <summary>The arguments as one canonical JSON text (<see cref="CanonicalJson"/>): equal calls compare equal.</summary>
    public static string Canonical(IDictionary<string, object?> arguments) =>
        CanonicalJson.Serialize(JsonSerializer.SerializeToElement(arguments.ToDictionary(a => a.Key, a => a.Value, StringComparer.Ordinal), BinderOptions));

    static bool IsNumeric(JsonElement property, out bool integer)
    {
        integer = false;
        if (!property.TryGetProperty("type", out var type)) return false;
        var types = type.ValueKind == JsonValueKind.Array ? type.EnumerateArray().Select(t => t.GetString()).ToList() : [type.GetString()];
        integer = types.Contains("integer") && !types.Contains("number");
        return types.Contains("number") || types.Contains("integer");
    }

    /// <summary>The value as the binder would bind it to a <see cref="decimal"/> parameter, or null when it would refuse it.</summary>
    static decimal? ToDecimal(object? value)
    {
        try
        {
            var element = value as JsonElement? ?? JsonSerializer.SerializeToElement(value, BinderOptions);
            return element.ValueKind is JsonValueKind.Number or JsonValueKind.String ? element.Deserialize<decimal>(BinderOptions) : null;
        }
        catch (Exception e) when (e is JsonException or FormatException or OverflowException or InvalidOperationException or NotSupportedException)
        {
            return null;
        }
    }

    static decimal Normal(decimal value) => CanonicalJson.Normal(value);

    static string Raw(object value) => value is JsonElement element ? element.GetRawText() : Convert.ToString(value, CultureInfo.InvariantCulture) ?? "";
}
