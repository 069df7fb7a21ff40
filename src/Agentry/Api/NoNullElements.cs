using System.Collections;
using System.Diagnostics;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace Agentry.Api;

/// <summary>
/// Refuses <c>null</c> inside a list or as a dictionary value that the body's type declares non-nullable
/// (<c>List&lt;ChatCompletionMessage&gt;</c>, <c>Dictionary&lt;string, string&gt;</c>): System.Text.Json's
/// <c>RespectNullableAnnotations</c> checks members but not the items of a collection, so <c>"messages": [null]</c>
/// would reach validation as a null message and fail there as a 500. Checked once the object is read, as a
/// <see cref="JsonException"/> naming the member, so it is the same 400 as any other malformed body.
/// </summary>
public static class NoNullElements
{
    static readonly NullabilityInfoContext Nullability = new();

    public static void Modify(JsonTypeInfo type)
    {
        if (type.Kind != JsonTypeInfoKind.Object) return;
        // RespectNullableAnnotations is for what clients send: a reply that carries a null (a row stored before a
        // field existed) is written as null, as before, rather than failing the response.
        foreach (var property in type.Properties.Where(p => !p.IsGetNullable && !p.PropertyType.IsValueType)) property.IsGetNullable = true;
        var checkedMembers = type.Properties
            .Where(p => p.Get is not null && p.AttributeProvider is PropertyInfo or FieldInfo && HasNonNullableItems(p))
            .Select(p => (p.Name, p.Get!))
            .ToArray();
        if (checkedMembers.Length == 0) return;
        var previous = type.OnDeserialized;
        type.OnDeserialized = value =>
        {
            foreach (var (name, get) in checkedMembers)
                if (ContainsNull(get(value)))
                    throw new NullItemException(name);
            previous?.Invoke(value);
        };
    }

    static bool HasNonNullableItems(JsonPropertyInfo property)
    {
        NullabilityInfo info;
        lock (Nullability) // NullabilityInfoContext is not thread-safe; this runs once per type, when its contract is built
            info = property.AttributeProvider switch
            {
                PropertyInfo p => Nullability.Create(p),
                FieldInfo f => Nullability.Create(f),
                _ => throw new UnreachableException(),
            };
        var item = info.ElementType ?? ItemOf(property.PropertyType, info);
        return item is { ReadState: NullabilityState.NotNull } && !item.Type.IsValueType && item.Type != typeof(object);
    }

    /// <summary>The item of a generic list (its one type argument) or the value of a dictionary (its second).</summary>
    static NullabilityInfo? ItemOf(Type type, NullabilityInfo info)
    {
        if (!type.IsGenericType || type == typeof(string)) return null;
        if (typeof(IDictionary).IsAssignableFrom(type) || type.GetInterfaces().Append(type).Any(IsReadOnlyDictionary))
            return info.GenericTypeArguments is [_, var value] ? value : null;
        return typeof(IEnumerable).IsAssignableFrom(type) && info.GenericTypeArguments is [var item] ? item : null;
    }

    static bool IsReadOnlyDictionary(Type type) => type.IsGenericType && type.GetGenericTypeDefinition() == typeof(IReadOnlyDictionary<,>);

    static bool ContainsNull(object? collection) => collection switch
    {
        IDictionary dictionary => dictionary.Values.Cast<object?>().Any(v => v is null),
        IEnumerable items and not string => items.Cast<object?>().Any(v => v is null),
        _ => false,
    };

    /// <summary>Names the member, which the reader's path (the object's, when this is thrown) does not reach.</summary>
    public sealed class NullItemException(string member) : JsonException($"'{member}' contains null where an item is required.")
    {
        public string Member { get; } = member;
    }
}
