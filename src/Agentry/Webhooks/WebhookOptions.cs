using System.ComponentModel.DataAnnotations;

namespace Agentry.Webhooks;

/// <summary>Where Agentry announces what happened without anyone waiting for it (docs/openai-compatibility.md, "Webhooks").</summary>
public sealed class WebhookOptions : IValidatableObject
{
    public const string Section = "Webhooks";

    /// <summary>Each receives the events it names, signed per the Standard Webhooks specification with its own secret.</summary>
    public List<WebhookEndpoint> Endpoints { get; set; } = [];

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        for (var i = 0; i < Endpoints.Count; i++)
        {
            var endpoint = Endpoints[i];
            if (!Uri.TryCreate(endpoint.Url, UriKind.Absolute, out var url) || url.Scheme is not ("http" or "https"))
                yield return new ValidationResult("Must be an absolute http(s) URL.", [$"Endpoints:{i}:Url"]);
            if (endpoint.Secret is not { } secret || !secret.StartsWith("whsec_", StringComparison.Ordinal) || !IsBase64(secret["whsec_".Length..]))
                yield return new ValidationResult("Must be a Standard Webhooks secret: whsec_ followed by base64 of 24 to 64 random bytes.", [$"Endpoints:{i}:Secret"]);
            foreach (var name in endpoint.Events.Where(e => !WebhookEvents.All.Contains(e)))
                yield return new ValidationResult($"'{name}' is not one of {string.Join(", ", WebhookEvents.All)}.", [$"Endpoints:{i}:Events"]);
        }
    }

    static bool IsBase64(string text)
    {
        var bytes = new byte[text.Length];
        return Convert.TryFromBase64String(text, bytes, out var length) && length is >= 24 and <= 64;
    }
}

public sealed class WebhookEndpoint
{
    public string? Url { get; set; }
    /// <summary><c>whsec_</c> + base64; the receiver verifies each call's <c>webhook-signature</c> with it.</summary>
    public string? Secret { get; set; }
    /// <summary>The events sent here; empty: all of them.</summary>
    public List<string> Events { get; set; } = [];

    public bool Wants(string type) => Events.Count == 0 || Events.Contains(type);
}

/// <summary>What can be announced.</summary>
public static class WebhookEvents
{
    public const string ResponseCompleted = "response.completed";
    public const string ResponseFailed = "response.failed";
    public const string ResponseCancelled = "response.cancelled";
    public const string ResponseIncomplete = "response.incomplete";
    /// <summary>A turn held a tool call for a person's decision (any door: native, OpenAI-compatible, MCP).</summary>
    public const string ApprovalPending = "approval.pending";
    /// <summary>An eval run started through the API finished (passed, failed or error), with its pass rate and regressions.</summary>
    public const string EvalRunCompleted = "eval.run.completed";

    public static readonly string[] All = [ResponseCompleted, ResponseFailed, ResponseCancelled, ResponseIncomplete, ApprovalPending, EvalRunCompleted];
}
