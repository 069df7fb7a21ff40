using System.Diagnostics;
using Microsoft.Extensions.Options;

namespace Agentry.Observability;

/// <summary>Estimated cost in US dollars from the configured prices per million tokens.</summary>
public sealed class ModelPrices(IOptions<AnalyticsOptions> options)
{
    public double Cost(string model, long input, long output)
    {
        var prices = options.Value.Prices;
        var price = prices.GetValueOrDefault(model) ?? prices.GetValueOrDefault(model[(model.IndexOf('/') + 1)..]);
        return price is null ? 0 : (input * price.InputPerMillion + output * price.OutputPerMillion) / 1_000_000;
    }
}
