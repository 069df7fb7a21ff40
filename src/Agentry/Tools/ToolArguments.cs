using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
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

    /// <summary>The arguments as one canonical JSON text (object keys in ordinal order, numbers without trailing zeros): equal calls compare equal.</summary>
    public static string Canonical(IDictionary<string, object?> arguments)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            foreach (var (name, value) in arguments.OrderBy(a => a.Key, StringComparer.Ordinal))
            {
                writer.WritePropertyName(name);
                WriteCanonical(writer, JsonSerializer.SerializeToElement(value, BinderOptions));
            }
            writer.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    static void WriteCanonical(Utf8JsonWriter writer, JsonElement element)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                writer.WriteStartObject();
                foreach (var property in element.EnumerateObject().OrderBy(p => p.Name, StringComparer.Ordinal))
                {
                    writer.WritePropertyName(property.Name);
                    WriteCanonical(writer, property.Value);
                }
                writer.WriteEndObject();
                break;
            case JsonValueKind.Array:
                writer.WriteStartArray();
                foreach (var item in element.EnumerateArray()) WriteCanonical(writer, item);
                writer.WriteEndArray();
                break;
            case JsonValueKind.Number when element.TryGetDecimal(out var number):
                writer.WriteNumberValue(Normal(number));
                break;
            default:
                element.WriteTo(writer);
                break;
        }
    }

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

    /// <summary>100.00 and 1E2 are the same amount: trailing zeros of the scale are dropped.</summary>
    static decimal Normal(decimal value) => value / 1.000000000000000000000000000000000m;

    static string Raw(object value) => value is JsonElement element ? element.GetRawText() : Convert.ToString(value, CultureInfo.InvariantCulture) ?? "";
}
