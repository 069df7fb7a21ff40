using System.Collections;
using System.Reflection;
using Microsoft.Extensions.Options;

namespace Agentry.Operations;

/// <summary>
/// Binds an options class to its configuration section, and takes a list setting in the form operators write first: one
/// value (<c>Observability__MetricsAllowedNetworks=none</c>, <c>--Tools:HttpGetAllowedHosts a.example,b.example</c>).
/// The configuration binder reads a list only from indexed children (<c>…:0</c>, <c>…:1</c>) and silently ignores a
/// plain value, which once left <c>/metrics</c> open while the operator believed it closed: here a plain value is split
/// on commas into the list.
/// </summary>
public static class SettingsBinding
{
    public static OptionsBuilder<T> BindSettings<T>(this OptionsBuilder<T> builder, string section) where T : class
    {
        builder.BindConfiguration(section);
        builder.Services.AddSingleton<IConfigureOptions<T>>(services =>
            new ConfigureNamedOptions<T>(builder.Name, options => ApplyListValues(options, services.GetRequiredService<IConfiguration>().GetSection(section))));
        return builder;
    }

    /// <summary>Sets every string list property (of the options and of their nested settings objects) that is configured as one value.</summary>
    static void ApplyListValues(object options, IConfigurationSection section, int depth = 0)
    {
        if (depth > 3) return;
        foreach (var property in options.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanRead && p.GetIndexParameters().Length == 0))
        {
            var child = section.GetSection(property.Name);
            if (property.PropertyType == typeof(string[]) || property.PropertyType == typeof(List<string>))
            {
                // Only a plain value: where items are given (…:0, …:1) the binder has already read them.
                if (child.Value is not { } value || child.GetChildren().Any() || !property.CanWrite) continue;
                if (property.GetCustomAttribute<WholeItemsAttribute>() is not null)
                    throw new StartupException($"{child.Path} is a list and its items may contain commas: write each item as {child.Path}:0, {child.Path}:1, … " +
                        $"(in environment variables {child.Path.Replace(":", "__", StringComparison.Ordinal)}__0, …).");
                var items = value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                property.SetValue(options, property.PropertyType == typeof(string[]) ? items : items.ToList());
            }
            else if (IsSettingsObject(property.PropertyType) && property.GetValue(options) is { } nested)
            {
                ApplyListValues(nested, child, depth + 1);
            }
            else if (property.GetValue(options) is IDictionary dictionary && property.PropertyType.GetGenericArguments() is [_, var valueType] && IsSettingsObject(valueType))
            {
                foreach (DictionaryEntry entry in dictionary)
                    if (entry.Value is { } item) ApplyListValues(item, child.GetSection(Convert.ToString(entry.Key, System.Globalization.CultureInfo.InvariantCulture)!), depth + 1);
            }
        }
    }

    static bool IsSettingsObject(Type type) =>
        type.IsClass && type != typeof(string) && !typeof(IEnumerable).IsAssignableFrom(type) && type.Namespace?.StartsWith("Agentry", StringComparison.Ordinal) == true;
}
