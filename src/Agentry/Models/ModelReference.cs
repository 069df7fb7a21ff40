using System.Text.RegularExpressions;

namespace Agentry.Models;

/// <summary>
/// What an agent's <c>model</c> names: <c>offline</c>, <c>endpoint</c> (its default model) or <c>endpoint/model</c>.
/// The model part may contain '/', ':' and '.' (e.g. <c>ollama/library/llama3.1:8b</c>).
/// </summary>
public readonly partial record struct ModelReference(string Endpoint, string? Model)
{
    public bool IsOffline => Endpoint == ModelOptions.Offline;

    public override string ToString() => Model is null ? Endpoint : $"{Endpoint}/{Model}";

    public static bool TryParse(string? value, out ModelReference reference)
    {
        reference = default;
        if (string.IsNullOrWhiteSpace(value) || value.Length > 200) return false;
        var slash = value.IndexOf('/');
        var endpoint = (slash < 0 ? value : value[..slash]).ToLowerInvariant();
        var model = slash < 0 ? null : value[(slash + 1)..];
        if (!IsValidEndpointName(endpoint)) return false;
        if (model is not null && !ModelNamePattern().IsMatch(model)) return false;
        reference = new ModelReference(endpoint, endpoint == ModelOptions.Offline ? null : model);
        return true;
    }

    public static bool IsValidEndpointName(string name) => EndpointPattern().IsMatch(name);

    [GeneratedRegex("^[a-z0-9-]{1,64}$")]
    private static partial Regex EndpointPattern();

    [GeneratedRegex(@"^[A-Za-z0-9._:/@+-]{1,200}$")]
    private static partial Regex ModelNamePattern();
}
