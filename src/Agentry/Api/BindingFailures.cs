using System.Globalization;
using System.Reflection;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Mvc;

namespace Agentry.Api;

/// <summary>
/// Says which route, query or header parameter a request got wrong, in the client's terms. Request delegates are
/// generated at compile time (<c>EnableRequestDelegateGenerator</c>, no expression trees compiled at start-up), and the
/// generated code answers a value that does not parse for an optional parameter (<c>?limit=abc</c> for <c>int? limit</c>)
/// with a bare 400, without the exception <see cref="ApiExceptionHandler"/> describes. The endpoint's
/// <see cref="IParameterBindingMetadata"/> names its parameters, so the one whose value does not parse is found by
/// parsing it again the way the binder does (the type's <c>TryParse</c>, invariant culture).
/// </summary>
public static class BindingFailures
{
    public static HttpValidationProblemDetails? Describe(HttpContext http)
    {
        if (http.GetEndpoint()?.Metadata.GetOrderedMetadata<IParameterBindingMetadata>() is not { Count: > 0 } parameters) return null;
        foreach (var parameter in parameters)
        {
            if (!parameter.HasTryParse || parameter.HasBindAsync) continue;
            var type = parameter.ParameterInfo.ParameterType;
            var element = type.IsArray ? type.GetElementType()! : type;
            element = Nullable.GetUnderlyingType(element) ?? element;
            foreach (var value in RawValues(http, parameter))
                if (!string.IsNullOrEmpty(value) && !Parses(element, value))
                    return Invalid(parameter.Name, value, element.Name);
        }
        return null;
    }

    /// <summary>The problem for a parameter whose value does not parse; <paramref name="typeName"/> is the .NET name, never shown.</summary>
    public static HttpValidationProblemDetails Invalid(string name, string value, string typeName) =>
        new(new Dictionary<string, string[]> { [name] = [$"'{value}' is not a valid {Kind(typeName)}."] })
        {
            Status = 400, Type = ProblemTypes.ValidationFailed, Title = "Invalid parameter", Detail = $"The parameter '{name}' has an invalid value.",
        };

    static Microsoft.Extensions.Primitives.StringValues RawValues(HttpContext http, IParameterBindingMetadata parameter)
    {
        var info = parameter.ParameterInfo;
        if (info.GetCustomAttribute<FromHeaderAttribute>() is { } header) return http.Request.Headers[header.Name ?? parameter.Name];
        if (info.GetCustomAttribute<FromQueryAttribute>() is { } query) return http.Request.Query[query.Name ?? parameter.Name];
        var routeName = info.GetCustomAttribute<FromRouteAttribute>()?.Name ?? parameter.Name;
        if (http.Request.RouteValues.TryGetValue(routeName, out var routeValue)) return routeValue?.ToString();
        return http.Request.Query[parameter.Name];
    }

    static bool Parses(Type type, string value)
    {
        if (type == typeof(string)) return true;
        if (type.IsEnum) return Enum.TryParse(type, value, ignoreCase: true, out _);
        var withCulture = type.GetMethod("TryParse", BindingFlags.Public | BindingFlags.Static,
            [typeof(string), typeof(IFormatProvider), type.MakeByRefType()]);
        if (withCulture is not null) return (bool)withCulture.Invoke(null, [value, CultureInfo.InvariantCulture, null])!;
        var plain = type.GetMethod("TryParse", BindingFlags.Public | BindingFlags.Static, [typeof(string), type.MakeByRefType()]);
        return plain is null || (bool)plain.Invoke(null, [value, null])!;
    }

    /// <summary>A type as a client reads it: "whole number", not <c>int?</c>.</summary>
    static string Kind(string type) => type.TrimEnd('?') switch
    {
        "int" or "long" or "Int32" or "Int64" => "whole number",
        "double" or "decimal" or "float" or "Double" or "Decimal" or "Single" => "number",
        "bool" or "Boolean" => "boolean (true or false)",
        "DateTimeOffset" or "DateTime" => "ISO-8601 date-time (2026-01-31T12:00:00Z)",
        "DateOnly" => "date (2026-01-31)",
        "Guid" => "id",
        _ => "value",
    };
}
