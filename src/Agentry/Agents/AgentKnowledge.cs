using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Agentry.Api;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;
using YamlDotNet.Serialization;

namespace Agentry.Agents;

/// <summary>
/// The knowledge bases an agent answers from: before each answer the passages that best answer the user's message
/// (at most <see cref="TopK"/>, within <see cref="MaxTokens"/>) are added to its context as numbered sources it cites,
/// and it can search them itself with the <c>search_knowledge</c> tool. Written in full (<c>{bases, topK, maxTokens}</c>)
/// or as just the list of bases (<c>knowledge: [help-center]</c>).
/// </summary>
public sealed record AgentKnowledge
{
    public const int DefaultTopK = 4;
    public const int DefaultMaxTokens = 1_500;

    public List<string> Bases { get; init => field = value ?? []; } = [];
    public int TopK { get; init; } = DefaultTopK;
    /// <summary>Most tokens (o200k) of passages added to the context; passages that do not fit are left out, best first kept.</summary>
    public int MaxTokens { get; init; } = DefaultMaxTokens;

    public void Validate(ValidationErrors errors)
    {
        errors.Count("knowledge.bases", Bases, 10);
        for (var i = 0; i < Bases.Count; i++) errors.Slug($"knowledge.bases[{i}]", Bases[i]);
        if (Bases.Distinct(StringComparer.Ordinal).Count() != Bases.Count) errors.Add("knowledge.bases", "A knowledge base is listed twice.");
        errors.Range("knowledge.topK", TopK, 1, 20);
        errors.Range("knowledge.maxTokens", MaxTokens, 100, 20_000);
    }

    /// <summary>Reads the full form, or a list of bases (<c>"knowledge": ["help-center"]</c>); writes the full form.</summary>
    public sealed class JsonShorthand : JsonConverter<AgentKnowledge>
    {
        public override AgentKnowledge? Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            reader.TokenType == JsonTokenType.StartArray
                ? new AgentKnowledge { Bases = JsonSerializer.Deserialize<List<string>>(ref reader, options) ?? [] }
                : JsonSerializer.Deserialize<AgentKnowledge>(ref reader, options);

        public override void Write(Utf8JsonWriter writer, AgentKnowledge value, JsonSerializerOptions options) =>
            JsonSerializer.Serialize(writer, value, options);
    }

    /// <summary>The same two forms in agent files; written as the short list when topK and maxTokens are the defaults.</summary>
    public sealed class YamlShorthand : IYamlTypeConverter
    {
        public bool Accepts(Type type) => type == typeof(AgentKnowledge);

        public object? ReadYaml(IParser parser, Type type, ObjectDeserializer rootDeserializer)
        {
            if (parser.Current is SequenceStart) return new AgentKnowledge { Bases = (List<string>?)rootDeserializer(typeof(List<string>)) ?? [] };
            var start = parser.Current?.Start ?? Mark.Empty;
            var fields = (Dictionary<string, object?>?)rootDeserializer(typeof(Dictionary<string, object?>)) ?? [];
            var knowledge = new AgentKnowledge();
            foreach (var (key, value) in fields)
            {
                knowledge = key.ToLowerInvariant() switch
                {
                    "bases" => knowledge with { Bases = value is List<object> list ? list.Select(b => Convert.ToString(b, CultureInfo.InvariantCulture) ?? "").ToList() : throw Wrong(start, key, "a list") },
                    "topk" => knowledge with { TopK = Number(start, key, value) },
                    "maxtokens" => knowledge with { MaxTokens = Number(start, key, value) },
                    _ => throw new YamlException(start, start, $"Property '{key}' not found; knowledge takes bases, topK and maxTokens."),
                };
            }
            return knowledge;
        }

        static int Number(Mark at, string key, object? value) =>
            int.TryParse(Convert.ToString(value, CultureInfo.InvariantCulture), NumberStyles.Integer, CultureInfo.InvariantCulture, out var number) ? number : throw Wrong(at, key, "a whole number");

        static YamlException Wrong(Mark at, string key, string expected) => new(at, at, $"knowledge.{key}: the value is not {expected}");

        public void WriteYaml(IEmitter emitter, object? value, Type type, ObjectSerializer serializer)
        {
            var knowledge = (AgentKnowledge)value!;
            if (knowledge.TopK == DefaultTopK && knowledge.MaxTokens == DefaultMaxTokens)
            {
                serializer(knowledge.Bases, typeof(List<string>));
                return;
            }
            emitter.Emit(new MappingStart());
            emitter.Emit(new YamlDotNet.Core.Events.Scalar("bases"));
            serializer(knowledge.Bases, typeof(List<string>));
            emitter.Emit(new YamlDotNet.Core.Events.Scalar("topK"));
            emitter.Emit(new YamlDotNet.Core.Events.Scalar(knowledge.TopK.ToString(CultureInfo.InvariantCulture)));
            emitter.Emit(new YamlDotNet.Core.Events.Scalar("maxTokens"));
            emitter.Emit(new YamlDotNet.Core.Events.Scalar(knowledge.MaxTokens.ToString(CultureInfo.InvariantCulture)));
            emitter.Emit(new MappingEnd());
        }
    }
}
