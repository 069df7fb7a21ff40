using System.Globalization;
using Xunit.Abstractions;

namespace Agentry.Tests.Knowledge;

/// <summary>
/// Retrieval quality on the shipped help-center, measured and held to a floor: recall@1 and @3 by document and by
/// section over the answerable questions, and how many off-topic questions retrieve nothing (so the agent says it does
/// not know). The figures are printed and kept in docs/knowledge.md.
/// </summary>
public sealed class HelpCenterRetrievalTests(ITestOutputHelper output)
{
    [Fact]
    public async Task The_help_center_finds_the_answering_section_of_paraphrased_questions_and_nothing_for_unrelated_ones()
    {
        await using var app = new AgentryApp();
        await KnowledgeFiles.ShippedHelpCenterAsync(app);

        int docAt1 = 0, docAt3 = 0, sectionAt1 = 0, sectionAt3 = 0, sections = 0;
        var misses = new List<string>();
        foreach (var q in HelpCenterQuestions.Answerables)
        {
            var hits = await KnowledgeFiles.SearchAsync(app, "help-center", q.Question, topK: 3);
            var documents = hits.Select(h => (string)h!["document"]!).ToList();
            var found = hits.Select(h => ((string)h!["document"]!, ((string)h["section"]!).Split(" › ")[^1])).ToList();
            if (documents.Take(1).Contains(q.Document)) docAt1++;
            if (documents.Contains(q.Document)) docAt3++;
            else misses.Add($"{q.Question} → {string.Join(" | ", found)}");
            if (q.Section is null) continue;
            sections++;
            if (found.Take(1).Contains((q.Document, q.Section))) sectionAt1++;
            if (found.Contains((q.Document, q.Section))) sectionAt3++;
        }
        var offTopicEmpty = 0;
        foreach (var question in HelpCenterQuestions.OffTopic)
        {
            var hits = await KnowledgeFiles.SearchAsync(app, "help-center", question, topK: 3);
            if (hits.Count == 0) offTopicEmpty++;
            else misses.Add($"(off topic) {question} → {(string)hits[0]!["document"]!} {(double)hits[0]!["similarity"]!:0.00}");
        }

        double Share(int n, int of) => Math.Round((double)n / of, 3);
        var n = HelpCenterQuestions.Answerables.Length;
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{n} answerable questions: document recall@1 {Share(docAt1, n)}, @3 {Share(docAt3, n)}; section recall@1 {Share(sectionAt1, sections)}, @3 {Share(sectionAt3, sections)} ({sections} with a section)"));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"off-topic questions retrieving nothing: {offTopicEmpty} of {HelpCenterQuestions.OffTopic.Length}"));
        foreach (var miss in misses) output.WriteLine("miss: " + miss);

        // The floor: a little below the figures measured when it was set (docs/knowledge.md), so a change that makes retrieval worse fails here.
        Assert.True(Share(docAt3, n) >= 0.95, $"document recall@3 {Share(docAt3, n)}");
        Assert.True(Share(docAt1, n) >= 0.9, $"document recall@1 {Share(docAt1, n)}");
        Assert.True(Share(sectionAt3, sections) >= 0.9, $"section recall@3 {Share(sectionAt3, sections)}");
        Assert.True(Share(sectionAt1, sections) >= 0.8, $"section recall@1 {Share(sectionAt1, sections)}");
        Assert.True(offTopicEmpty >= HelpCenterQuestions.OffTopic.Length - 1, $"off-topic questions retrieving nothing: {offTopicEmpty}");
    }
}
