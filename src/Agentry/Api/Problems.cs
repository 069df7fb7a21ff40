using Microsoft.AspNetCore.Http.HttpResults;

namespace Agentry.Api;

/// <summary>
/// The stable problem <c>type</c> URIs Agentry returns (RFC 9457). Clients branch on these, so a value never changes
/// once shipped; docs/api.md lists them all.
/// </summary>
public static class ProblemTypes
{
    const string Prefix = "urn:agentry:problem:";

    public const string ValidationFailed = Prefix + "validation-failed";
    public const string InvalidJson = Prefix + "invalid-json";
    public const string BadRequest = Prefix + "bad-request";
    public const string NotFound = Prefix + "not-found";
    public const string AgentNotFound = Prefix + "agent-not-found";
    public const string ConversationNotFound = Prefix + "conversation-not-found";
    public const string AgentExists = Prefix + "agent-exists";
    public const string AgentDefinedInFile = Prefix + "agent-defined-in-file";
    public const string AgentVersionNotFound = Prefix + "agent-version-not-found";
    public const string EvalRunNotFound = Prefix + "eval-run-not-found";
    /// <summary>An eval suite that cannot be read (YAML, an unknown agent, an expectation it does not know); the errors name the line.</summary>
    public const string EvalSuiteInvalid = Prefix + "eval-suite-invalid";
    public const string EvalSuiteNotFound = Prefix + "eval-suite-not-found";
    public const string ConversationBusy = Prefix + "conversation-busy";
    public const string ApprovalPending = Prefix + "approval-pending";
    public const string ApprovalNotFound = Prefix + "approval-not-found";
    public const string ApprovalDecided = Prefix + "approval-already-decided";
    public const string Conflict = Prefix + "conflict";
    public const string McpServerNotFound = Prefix + "mcp-server-not-found";
    public const string McpServerExists = Prefix + "mcp-server-exists";
    public const string McpServerInSettings = Prefix + "mcp-server-in-settings";
    /// <summary>A server definition that would run a program on the host, reach a private network or send Agentry's environment.</summary>
    public const string McpServerRefused = Prefix + "mcp-server-refused";
    public const string McpToolsNotHeld = Prefix + "mcp-tools-not-held";
    public const string MethodNotAllowed = Prefix + "method-not-allowed";
    public const string PayloadTooLarge = Prefix + "payload-too-large";
    /// <summary>A message longer than the whole history window (Conversations:HistoryTokenLimit): it could never be sent whole.</summary>
    public const string MessageTooLarge = Prefix + "message-too-large";
    public const string UnsupportedMediaType = Prefix + "unsupported-media-type";
    public const string NotAcceptable = Prefix + "not-acceptable";
    public const string ModelNotConfigured = Prefix + "model-not-configured";
    public const string UpstreamError = Prefix + "upstream-error";
    public const string UpstreamUnreachable = Prefix + "upstream-unreachable";
    public const string UpstreamRejected = Prefix + "upstream-rejected";
    public const string UpstreamRateLimited = Prefix + "upstream-rate-limited";
    public const string UpstreamUnavailable = Prefix + "upstream-unavailable";
    public const string UpstreamTimeout = Prefix + "upstream-timeout";
    /// <summary>The provider's answer ended before it said it was finished (a cut stream, no finish reason).</summary>
    public const string UpstreamIncomplete = Prefix + "upstream-incomplete";
    public const string ShuttingDown = Prefix + "shutting-down";
    public const string IdempotencyKeyInUse = Prefix + "idempotency-key-in-use";
    public const string IdempotencyKeyReused = Prefix + "idempotency-key-reused";
    public const string AgentsReloadFailed = Prefix + "agents-reload-failed";
    public const string Unauthorized = Prefix + "unauthorized";
    public const string Forbidden = Prefix + "forbidden";
    /// <summary>A key without the admin scope tried to give an agent a tool that reaches outside or moves money.</summary>
    public const string ToolGrantForbidden = Prefix + "tool-grant-forbidden";
    public const string RateLimited = Prefix + "rate-limited";
    public const string ConcurrencyLimited = Prefix + "too-many-concurrent-requests";
    public const string TokenBudgetExceeded = Prefix + "token-budget-exceeded";
    public const string TokenBudgetTooSmall = Prefix + "token-budget-too-small";
    /// <summary>A shared limit (token budgets in Redis) cannot be checked right now, and Redis:OnFailure says to refuse.</summary>
    public const string LimitsUnavailable = Prefix + "limits-unavailable";
    public const string KeyNotFound = Prefix + "key-not-found";
    public const string UserNotFound = Prefix + "user-not-found";
    public const string BackupInProgress = Prefix + "backup-in-progress";
    public const string KnowledgeBaseNotFound = Prefix + "knowledge-base-not-found";
    public const string DocumentNotFound = Prefix + "document-not-found";
    public const string MemoryNotFound = Prefix + "memory-not-found";
    /// <summary>A file whose format Agentry does not read (not Markdown, text, HTML or PDF).</summary>
    public const string DocumentFormatUnsupported = Prefix + "document-format-unsupported";
    /// <summary>A file Agentry cannot take as a document: not UTF-8, a PDF without text, empty or too long.</summary>
    public const string DocumentUnreadable = Prefix + "document-unreadable";
    /// <summary>Tool results that do not answer the client-side calls the conversation waits for (or none are waiting).</summary>
    public const string ToolResultsMismatch = Prefix + "tool-results-mismatch";
    public const string ResponseNotFound = Prefix + "response-not-found";
    public const string Internal = Prefix + "internal-error";

    /// <summary>The type used when a response carries only a status code (for example a 405 from routing).</summary>
    public static string ForStatus(int status) => status switch
    {
        400 => BadRequest,
        401 => Unauthorized,
        403 => Forbidden,
        404 => NotFound,
        405 => MethodNotAllowed,
        406 => NotAcceptable,
        409 => Conflict,
        413 => PayloadTooLarge,
        415 => UnsupportedMediaType,
        429 => RateLimited,
        502 => UpstreamError,
        503 => UpstreamUnavailable,
        504 => UpstreamTimeout,
        _ when status >= 500 => Internal,
        _ => BadRequest,
    };

    public static string DefaultDetail(int status) => status switch
    {
        404 => "No resource exists at this address.",
        405 => "This address does not accept that HTTP method.",
        413 => "The request body is larger than the server accepts.",
        415 => "Send the request body as application/json.",
        500 => "The server failed to handle the request. The error was logged; quote the traceId when reporting it.",
        _ => "The request could not be processed.",
    };
}

/// <summary>
/// A client-facing failure raised below the endpoint layer (for example inside a turn), turned into a problem
/// response by <see cref="ApiExceptionHandler"/>. Endpoint handlers return <see cref="ProblemHttpResult"/> directly.
/// </summary>
public sealed class ApiProblemException(int status, string type, string title, string detail) : Exception(detail)
{
    public int Status { get; } = status;
    public string Type { get; } = type;
    public string Title { get; } = title;
    public TimeSpan? RetryAfter { get; init; }

    public ProblemHttpResult ToResult() => TypedResults.Problem(detail: Message, statusCode: Status, title: Title, type: Type);
}

/// <summary>A request value found wrong beyond what its type and validator can see: a validation problem naming the field.</summary>
public sealed class ApiValidationException(string field, string message) : Exception(message)
{
    public string Field { get; } = field;
}

public static class Problems
{
    /// <summary>Writes a problem from middleware (authentication, rate limiting), where no endpoint result is returned.</summary>
    public static Task WriteAsync(HttpContext context, int status, string type, string title, string detail)
    {
        context.Response.StatusCode = status;
        return context.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext
        {
            HttpContext = context,
            ProblemDetails = { Status = status, Type = type, Title = title, Detail = detail },
        }).AsTask();
    }

    public static ProblemHttpResult NotFound(string type, string detail) =>
        TypedResults.Problem(detail: detail, statusCode: StatusCodes.Status404NotFound, title: "Not found", type: type);

    public static ProblemHttpResult Conflict(string type, string detail) =>
        TypedResults.Problem(detail: detail, statusCode: StatusCodes.Status409Conflict, title: "Conflict", type: type);

    public static ValidationProblem Validation(IDictionary<string, string[]> errors) =>
        TypedResults.ValidationProblem(errors, detail: "One or more fields are invalid; see errors.", title: "Validation failed",
            type: ProblemTypes.ValidationFailed);

    public static ValidationProblem Validation(string field, string message) =>
        Validation(new Dictionary<string, string[]> { [field] = [message] });

    public static ApiProblemException AgentNotFound(string agentId) =>
        new(404, ProblemTypes.AgentNotFound, "Agent not found", $"No agent with id '{agentId}' exists.");

    public static ApiProblemException ConversationNotFound(string conversationId) =>
        new(404, ProblemTypes.ConversationNotFound, "Conversation not found", $"No conversation with id '{conversationId}' exists.");
}
