using System.Text.Json;
using System.Text.Json.Serialization;

namespace Agentry.Api;

/// <summary>
/// Refuses U+0000 in every JSON string (values and property names): PostgreSQL cannot store it in text, so one rule at
/// the edge keeps both databases alike and turns what would be a 500 on PostgreSQL into a 400 naming the field.
/// </summary>
public sealed class NoNulStringConverter : JsonConverter<string>
{
    public override string? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => Checked(reader.GetString());

    public override void Write(Utf8JsonWriter writer, string value, JsonSerializerOptions options) => writer.WriteStringValue(value);

    public override string ReadAsPropertyName(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => Checked(reader.GetString())!;

    public override void WriteAsPropertyName(Utf8JsonWriter writer, string value, JsonSerializerOptions options) => writer.WritePropertyName(value);

    static string? Checked(string? value) =>
        value is not null && value.Contains('\0') ? throw new JsonException("Text must not contain the NUL character (\\u0000).") : value;
}
