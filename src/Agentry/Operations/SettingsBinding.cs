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
    /// <summary>
    /// Binds <paramref name="section"/> and checks its data annotations when the options are first used (at start, with
    /// ValidateOnStart): a value that cannot be read as its type, or breaks a [Range], stops start-up with a message that
    /// names the setting (<c>Section:Member</c>), thrown as a <see cref="StartupException"/> or an
    /// <see cref="OptionsValidationException"/> of such messages — never a message text to be recognised later.
    /// </summary>
    public static OptionsBuilder<T> BindSettings<T>(this OptionsBuilder<T> builder, string section) where T : class
    {
        builder.Configure<IConfiguration>((options, configuration) =>
        {
            var settings = configuration.GetSection(section);
            RejectUnknownChoices(options, settings);
            try
            {
                settings.Bind(options);
            }
            catch (InvalidOperationException e)
            {
                // The binder's own words ("Failed to convert configuration value 'many' at 'Models:Resilience:MaxRetries' to type …")
                throw new StartupException($"Invalid setting: {e.Message}", e);
            }
            ApplyListValues(options, settings);
        });
        builder.Services.AddSingleton<IValidateOptions<T>>(new AnnotatedSettingsValidator<T>(builder.Name, section));
        return builder;
    }

    /// <summary>
    /// A choice (an enum setting) that names none of its values stops start-up with the values it may name; the binder's
    /// own message ("Failed to convert … to type 'Agentry.Models.LocalEmbeddingWeights'") names a .NET type, not the choices.
    /// A set of flags may combine names with commas, so those are left to the binder.
    /// </summary>
    static void RejectUnknownChoices(object options, IConfigurationSection settings)
    {
        foreach (var property in options.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            var type = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
            if (!type.IsEnum || type.IsDefined(typeof(FlagsAttribute), false) || !property.CanWrite || settings[property.Name] is not { Length: > 0 } value) continue;
            if (!Enum.TryParse(type, value, ignoreCase: true, out var parsed) || !Enum.IsDefined(type, parsed!))
                throw new StartupException($"Invalid setting: {settings.Path}:{property.Name} is '{value}'; use one of: {string.Join(", ", Enum.GetNames(type))}.");
        }
    }

    /// <summary>[Range], [Required] and the like on an options class, reported as <c>Section:Member: message</c>.</summary>
    sealed class AnnotatedSettingsValidator<T>(string? name, string section) : IValidateOptions<T> where T : class
    {
        public ValidateOptionsResult Validate(string? optionsName, T options)
        {
            if (name is not null && name != optionsName) return ValidateOptionsResult.Skip;
            var results = new List<System.ComponentModel.DataAnnotations.ValidationResult>();
            if (System.ComponentModel.DataAnnotations.Validator.TryValidateObject(options, new System.ComponentModel.DataAnnotations.ValidationContext(options), results, true))
                return ValidateOptionsResult.Success;
            return ValidateOptionsResult.Fail(results.Select(r => $"{section}:{string.Join(", ", r.MemberNames)}: {r.ErrorMessage}"));
        }
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
