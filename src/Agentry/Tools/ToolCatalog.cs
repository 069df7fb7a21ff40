using System.ComponentModel;
using System.Globalization;
using Microsoft.Extensions.AI;

namespace Agentry.Tools;

/// <summary>A tool as the API lists it.</summary>
public sealed record ToolInfo(string Name, string Description);

/// <summary>
/// The built-in tools an agent can enable by name in its <c>tools</c> list. Each is an <see cref="AIFunction"/>, so the
/// model pipeline's function invocation runs it and feeds the result back to the model.
/// </summary>
public sealed class ToolCatalog
{
    readonly Dictionary<string, AIFunction> _tools;

    public ToolCatalog(TimeProvider time)
    {
        AIFunction[] tools =
        [
            AIFunctionFactory.Create(() => time.GetUtcNow().ToString("O", CultureInfo.InvariantCulture), "current_time",
                "Returns the current date and time in UTC, ISO-8601."),
            AIFunctionFactory.Create(([Description("An arithmetic expression with + - * / % ^, parentheses and decimals, e.g. (2+3)*4")] string expression)
                => Calculator.Evaluate(expression).ToString(CultureInfo.InvariantCulture), "calculator",
                "Evaluates an arithmetic expression exactly as written and returns the number."),
        ];
        _tools = tools.ToDictionary(t => t.Name, StringComparer.Ordinal);
    }

    public bool Exists(string name) => _tools.ContainsKey(name);

    public IReadOnlyList<ToolInfo> List() => _tools.Values.Select(t => new ToolInfo(t.Name, t.Description)).OrderBy(t => t.Name, StringComparer.Ordinal).ToList();

    public IEnumerable<AIFunction> Resolve(IEnumerable<string> names)
    {
        foreach (var name in names)
            if (_tools.TryGetValue(name, out var tool)) yield return tool;
    }
}

public static class ToolsExtensions
{
    public static IHostApplicationBuilder AddTools(this IHostApplicationBuilder builder)
    {
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<ToolCatalog>();
        return builder;
    }
}
