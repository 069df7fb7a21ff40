using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Agentry.Api;

/// <summary>
/// Reads ISO-8601 timestamps (any offset) and writes every timestamp as ISO-8601 UTC with a Z suffix. A value that is
/// not a representable date-time (a bad format, an offset beyond ±14:00, a moment before year 1 or after 9999 in UTC)
/// is a <see cref="JsonException"/>, so the client gets a 400 naming the field, never a 500.
/// </summary>
public sealed class UtcDateTimeOffsetConverter : JsonConverter<DateTimeOffset>
{
    public override DateTimeOffset Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType != JsonTokenType.String) throw new JsonException("Expected an ISO-8601 date-time string such as 2026-01-31T12:00:00Z.");
        var text = reader.GetString();
        return DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var value)
            ? value
            : throw new JsonException($"'{text}' is not an ISO-8601 date-time within years 0001-9999 (UTC) with an offset of at most ±14:00.");
    }

    public override void Write(Utf8JsonWriter writer, DateTimeOffset value, JsonSerializerOptions options) =>
        writer.WriteStringValue(value.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture));
}
