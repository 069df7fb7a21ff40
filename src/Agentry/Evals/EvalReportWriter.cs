using System.Globalization;
using System.Text;
using System.Xml.Linq;

namespace Agentry.Evals;

/// <summary>A report as people and CI systems read it: a table on the terminal (models side by side), JUnit XML for a pipeline's test view.</summary>
public static class EvalReportWriter
{
    static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;
    static readonly string[] Headings = ["case", "model", "turn", "expectation", "result", "why"];

    public static string Table(EvalReport report)
    {
        var text = new StringBuilder();
        var rows = new List<string[]> { Headings };
        foreach (var summary in report.Cases)
        {
            var runs = report.Results.Where(r => r.Suite == summary.Suite && r.Case == summary.Case && r.Model == summary.Model).ToList();
            // One run shows each check; repeats show the case's pass rate and the checks of its first failing run.
            var shown = runs.FirstOrDefault(r => !r.Passed) ?? runs[0];
            var name = $"{summary.Suite}/{summary.Case}";
            if (report.Repeat > 1)
                rows.Add([name, summary.Model, "", $"{summary.Passed}/{summary.Runs} runs passed", summary.Holds ? "PASS" : "FAIL", ""]);
            foreach (var turn in shown.Turns)
                foreach (var check in turn.Checks.Where(c => report.Repeat == 1 || c.Status != EvalCheck.Passed))
                    rows.Add([name, summary.Model, turn.Turn.ToString(Invariant), check.Expectation, Mark(check.Status),
                        check.Status == EvalCheck.Passed ? "" : Shorten(check.Reason ?? "", 110)]);
        }
        Columns(text, rows, hideModel: report.Models.Count == 1);
        text.AppendLine();

        // The models side by side: the evidence for choosing one.
        var figures = new List<string[]> { (string[])["", .. report.Summaries.Select(s => s.Model)] };
        figures.Add(["cases holding", .. report.Summaries.Select(s => $"{s.CasesHolding}/{s.Cases}")]);
        figures.Add(["pass rate (95% CI)", .. report.Summaries.Select(s =>
            $"{s.PassRate * 100:0.#} % ({s.PassRateLow * 100:0.#}-{s.PassRateHigh * 100:0.#})".Replace(',', '.'))]);
        figures.Add(["latency p50 / p95", .. report.Summaries.Select(s => $"{s.LatencyP50Ms.ToString("0", Invariant)} / {s.LatencyP95Ms.ToString("0", Invariant)} ms")]);
        figures.Add(["cost", .. report.Summaries.Select(s => $"{s.CostUsd.ToString("0.0000##", Invariant)} USD")]);
        figures.Add(["tokens", .. report.Summaries.Select(s => s.Tokens.ToString("N0", Invariant))]);
        if (report.Summaries.Any(s => s.ChecksSkipped > 0))
            figures.Add(["checks skipped (no judge)", .. report.Summaries.Select(s => s.ChecksSkipped.ToString(Invariant))]);
        Columns(text, figures, hideModel: false);
        text.AppendLine();
        if (report.JudgeTokens > 0)
            text.AppendLine($"Judge {report.JudgeModel}: {report.JudgeTokens.ToString("N0", Invariant)} tokens, {report.JudgeCostUsd.ToString("0.0000##", Invariant)} USD");
        text.AppendLine($"Agent versions: {string.Join(", ", report.AgentVersions.OrderBy(v => v.Key, StringComparer.Ordinal).Select(v => $"{v.Key} {v.Value}"))}");
        if (report.BaselineRunId is { } baseline)
        {
            var changed = report.AgentVersions.Where(v => report.BaselineAgentVersions?.GetValueOrDefault(v.Key) is { } then && then != v.Value)
                .Select(v => $"{v.Key} {report.BaselineAgentVersions![v.Key]} -> {v.Value}").ToList();
            text.AppendLine($"Compared with {baseline}: {(changed.Count == 0 ? "the same agent versions" : $"changed {string.Join(", ", changed)}")}; " +
                $"{(report.Regressions.Count == 0 ? "no regressions" : $"{report.Regressions.Count} regression(s):")}");
            foreach (var regression in report.Regressions)
                text.AppendLine($"  REGRESSED {regression.Suite}/{regression.Case} ({regression.Model}): {regression.BaselinePassRate * 100:0} % -> {regression.PassRate * 100:0} %");
        }
        var failing = report.Cases.Count(c => !c.Holds);
        text.AppendLine(report.Status == EvalRunStatus.Passed
            ? $"PASSED: {report.Cases.Count} case(s) hold{(report.Models.Count > 1 ? " on every model" : "")}. Run {report.RunId}."
            : $"FAILED: {failing} of {report.Cases.Count} case(s) do not hold{(report.Regressions.Count > 0 ? $", {report.Regressions.Count} regressed" : "")}. Run {report.RunId}.");
        return text.ToString();
    }

    /// <summary>JUnit XML: a test suite per suite and model, a test case per case (its failures with the expectation and why).</summary>
    public static XDocument JUnit(EvalReport report)
    {
        var suites = report.Cases.GroupBy(c => (c.Suite, c.Model)).Select(group =>
        {
            var cases = group.Select(summary =>
            {
                var runs = report.Results.Where(r => r.Suite == summary.Suite && r.Case == summary.Case && r.Model == summary.Model).ToList();
                var seconds = runs.SelectMany(r => r.Turns).Sum(t => t.LatencyMs) / 1000 / runs.Count;
                var element = new XElement("testcase", new XAttribute("name", summary.Case), new XAttribute("classname", report.Models.Count == 1 ? summary.Suite : $"{summary.Suite}.{summary.Model}"),
                    new XAttribute("time", seconds.ToString("0.###", Invariant)));
                var failed = runs.FirstOrDefault(r => !r.Passed);
                if (!summary.Holds && failed is not null)
                {
                    var checks = failed.Turns.SelectMany(t => t.Checks.Where(c => c.Status == EvalCheck.Failed).Select(c => $"turn {t.Turn}: {c.Expectation}: {c.Reason}")).ToList();
                    element.Add(new XElement("failure", new XAttribute("message", Xml(checks.FirstOrDefault() ?? "failed")),
                        new XAttribute("type", "expectation"), Xml(string.Join("\n", checks) + (runs.Count > 1 ? $"\n{summary.Passed}/{summary.Runs} runs passed" : ""))));
                }
                var skipped = runs[0].Turns.SelectMany(t => t.Checks.Where(c => c.Status == EvalCheck.Skipped).Select(c => $"turn {t.Turn}: {c.Expectation}: {c.Reason}")).ToList();
                if (skipped.Count > 0) element.Add(new XElement("system-out", Xml(string.Join("\n", skipped))));
                return element;
            }).ToList();
            return new XElement("testsuite", new XAttribute("name", $"{group.Key.Suite} ({group.Key.Model})"), new XAttribute("tests", cases.Count),
                new XAttribute("failures", group.Count(c => !c.Holds)), new XAttribute("errors", 0), new XAttribute("skipped", 0),
                new XAttribute("timestamp", report.StartedAt.UtcDateTime.ToString("s", Invariant)), cases);
        }).ToList();
        return new XDocument(new XElement("testsuites", new XAttribute("name", $"agentry eval {report.RunId}"), new XAttribute("tests", report.Cases.Count),
            new XAttribute("failures", report.Cases.Count(c => !c.Holds)), suites));
    }

    static void Columns(StringBuilder text, List<string[]> rows, bool hideModel)
    {
        var columns = Enumerable.Range(0, rows[0].Length).Where(c => !(hideModel && c == 1)).ToList();
        var widths = columns.ToDictionary(c => c, c => rows.Max(r => r[c].Length));
        foreach (var row in rows)
            text.AppendLine(string.Join("  ", columns.Select(c => c == columns[^1] ? row[c] : row[c].PadRight(widths[c]))).TrimEnd());
    }

    /// <summary>Text XML can carry: a reply or an argument may hold control characters XML 1.0 has no place for.</summary>
    static string Xml(string text) => string.Concat(text.Where(System.Xml.XmlConvert.IsXmlChar));

    static string Mark(string status) => status switch { EvalCheck.Passed => "pass", EvalCheck.Skipped => "skip", _ => "FAIL" };

    static string Shorten(string text, int max) => text.Length <= max ? text : text[..(max - 1)] + "…";
}
