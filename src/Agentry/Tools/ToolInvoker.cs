using System.Diagnostics;
using System.Text.Json;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;

namespace Agentry.Tools;

/// <summary>
/// Runs one tool call with the per-tool timeout and result-size cap. A failing tool never fails the turn: the
/// model receives "Error: …" and decides what to tell the user.
/// </summary>
/// <remarks>Its clock is the registered <see cref="TimeProvider"/>'s, so the timeout tests run on a fake clock.</remarks>
public sealed class ToolInvoker(ToolCatalog catalog, IOptions<ToolOptions> options, IServiceProvider services, TimeProvider time)
{
    public async Task<ToolOutcome> InvokeAsync(FunctionCallContent call, ToolContext context, IReadOnlyCollection<string> allowedTools, CancellationToken cancellationToken,
        ActivityContext parent = default)
    {
        using var span = Observability.AgentryTelemetry.Source.StartActivity($"agentry.tool {call.Name}", ActivityKind.Internal, parent);
        span?.SetTag("agentry.tool.name", call.Name).SetTag("agentry.agent.id", context.AgentId);
        var outcome = await RunAsync(call, context, allowedTools, cancellationToken);
        span?.SetTag("agentry.tool.outcome", outcome.Outcome);
        if (outcome.Outcome != ToolOutcome.Success) span?.SetStatus(ActivityStatusCode.Error, outcome.Outcome);
        return outcome;
    }

    async Task<ToolOutcome> RunAsync(FunctionCallContent call, ToolContext context, IReadOnlyCollection<string> allowedTools, CancellationToken cancellationToken)
    {
        var started = time.GetTimestamp();
        int Elapsed() => (int)time.GetElapsedTime(started).TotalMilliseconds;
        var allowed = ToolCatalog.Allows(allowedTools, call.Name);
        if ((allowed ? catalog.Find(call.Name) : null) is not { } tool)
            return allowed && catalog.Unavailable(call.Name) is { } down // an MCP tool whose server is down right now
                ? new ToolOutcome(ToolOutcome.Error, $"Error: {down}", 0)
                : new ToolOutcome(ToolOutcome.UnknownTool, $"Error: there is no tool named '{call.Name}' for this agent.", 0);

        // Dry run (an eval): permitted, existing and enabled as checked above, and not run.
        if (context.DryRunResult is { } dryRun) return new ToolOutcome(ToolExecution.DryRun, Truncate(dryRun), 0);

        using var timer = new CancellationTokenSource(options.Value.Timeout, time);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timer.Token);
        var arguments = new AIFunctionArguments(call.Arguments) { Services = services };
        arguments.Context = new Dictionary<object, object?> { [ToolCatalog.ContextKey] = context };
        try
        {
            var result = await tool.InvokeAsync(arguments, timeout.Token);
            return new ToolOutcome(ToolOutcome.Success, Truncate(Text(result)), Elapsed());
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new ToolOutcome(ToolOutcome.Timeout, $"Error: the tool did not finish within {options.Value.Timeout.TotalSeconds:0.#} s.", Elapsed());
        }
        catch (Exception e) when (e is ArgumentException or FormatException or InvalidOperationException or JsonException or HttpRequestException)
        {
            // These carry messages written for the caller (bad arguments, refused host); anything else stays generic.
            return new ToolOutcome(ToolOutcome.Error, Truncate($"Error: {e.Message}"), Elapsed());
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            return new ToolOutcome(ToolOutcome.Error, "Error: the tool failed.", Elapsed());
        }
    }

    string Truncate(string text) =>
        text.Length <= options.Value.MaxResultChars ? text : string.Concat(text.AsSpan(0, options.Value.MaxResultChars), "…[truncated]");

    /// <summary>A tool's return value as the text a model (or a person) reads.</summary>
    public static string Text(object? result) => result switch
    {
        null => "",
        string s => s,
        JsonElement { ValueKind: JsonValueKind.String } e => e.GetString()!,
        JsonElement e => e.GetRawText(),
        _ => JsonSerializer.Serialize(result),
    };
}
