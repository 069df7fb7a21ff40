using System.Buffers;
using System.Text;
using System.Text.Json;

namespace Agentry.Api;

/// <summary>
/// One text per JSON value: object keys in ordinal order, numbers without trailing zeros, no whitespace. Equal values
/// compare (and hash) equal, however they were written: tool arguments in the ledger, MCP tool definitions when pinned.
/// </summary>
public static class CanonicalJson
{
    public static string Serialize(JsonElement element)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer)) Write(writer, element);
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    public static void Write(Utf8JsonWriter writer, JsonElement element)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                writer.WriteStartObject();
                foreach (var property in element.EnumerateObject().OrderBy(p => p.Name, StringComparer.Ordinal))
                {
                    writer.WritePropertyName(property.Name);
                    Write(writer, property.Value);
                }
                writer.WriteEndObject();
                break;
            case JsonValueKind.Array:
                writer.WriteStartArray();
                foreach (var item in element.EnumerateArray()) Write(writer, item);
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

    /// <summary>100.00 and 1E2 are the same number: trailing zeros of the scale are dropped.</summary>
    public static decimal Normal(decimal value) => value / 1.000000000000000000000000000000000m;
}
