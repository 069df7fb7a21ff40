namespace Agentry.Evals;

/// <summary>A suite created through the API (<c>POST /v1/evals/suites</c>), kept as the YAML it was written in.</summary>
public sealed class StoredEvalSuite
{
    public required string Id { get; set; }
    public required string Yaml { get; set; }
    public string? AuthorKeyId { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }
}
