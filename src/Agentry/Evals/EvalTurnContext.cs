using Microsoft.Extensions.AI.Evaluation;

namespace Agentry.Evals;

/// <summary>
/// What the evaluators are given besides the reply: what the turn did (<see cref="TurnObservation"/>), the expectations
/// written for it and, for groundedness, the passages retrieval returned for the question.
/// </summary>
public sealed class EvalTurnContext(TurnObservation observed, IReadOnlyList<Expectation> expectations, IReadOnlyList<string> passages)
    : EvaluationContext(ContextName, observed.Reply)
{
    public const string ContextName = "agentry.eval.turn";

    public TurnObservation Observed => observed;
    public IReadOnlyList<Expectation> Expectations => expectations;
    public IReadOnlyList<string> Passages => passages;
}
