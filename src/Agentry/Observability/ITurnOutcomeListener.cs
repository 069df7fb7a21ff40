using System.Diagnostics;
using Microsoft.Extensions.Options;

namespace Agentry.Observability;

/// <summary>Something that learns from every finished turn (analytics, resource alerts, error groups).</summary>
public interface ITurnOutcomeListener
{
    void OnTurnFinished(TurnOutcome outcome);
}
