using System.Text.Json;
using Microsoft.Extensions.AI;
using ModelContextProtocol;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace Agentry.Mcp;

/// <summary>
/// A server definition as Agentry connects it; <see cref="Source"/> is <c>settings</c> or <c>api</c>, and
/// <see cref="AddedBy"/> who accepts its first tool list (the key that added it, or <c>settings</c>).
/// </summary>
public sealed record McpServerDefinition(string Name, McpServerSettings Settings, string Source, string AddedBy)
{
    public bool FromApi => Source == McpServers.SourceApi;
}

/// <summary>Why a call could not reach an MCP server: the model reads the message as the tool's error.</summary>
public sealed class McpUnavailableException(string message) : InvalidOperationException(message);

/// <summary>
/// One MCP server, kept connected: it connects in the background, lists the tools, re-lists them when the server
/// says they changed, and when the connection ends (a stdio process crashed, an http server went away) connects
/// again with growing waits (<see cref="McpOptions.ReconnectDelay"/>, doubling up to <see cref="McpOptions.MaxReconnectDelay"/>). Calls made while
/// it is down fail at once with a clear error; nothing waits on it, so a failing server never blocks a turn that does
/// not use it.
/// </summary>
public sealed partial class McpConnection : IAsyncDisposable
{
    public const string Connecting = "connecting";
    public const string Connected = "connected";
    public const string Reconnecting = "reconnecting";
    public const string Failed = "failed";

    readonly McpOptions _options;
    readonly McpToolPins _pins;
    readonly McpNetworkGuard _guard;
    readonly ILoggerFactory _loggers;
    readonly ILogger _logger;
    readonly TimeProvider _time;
    readonly CancellationTokenSource _stopping = new();
    readonly List<string> _stderrHead = [];
    readonly Queue<string> _stderr = new();
    Task _run = Task.CompletedTask;
    volatile McpClient? _client;
    volatile List<McpFunction> _listed = [];
    volatile List<McpFunction> _tools = [];
    volatile McpPinVerdict? _pin;

    public McpConnection(McpServerDefinition definition, McpOptions options, McpToolPins pins, McpNetworkGuard guard, ILoggerFactory loggers, TimeProvider time)
    {
        Definition = definition;
        _options = options;
        _pins = pins;
        _guard = guard;
        _loggers = loggers;
        _logger = loggers.CreateLogger<McpConnection>();
        _time = time;
    }

    public McpServerDefinition Definition { get; }
    public string Name => Definition.Name;
    public string Status { get; private set; } = Connecting;
    public string? Error { get; private set; }
    public DateTimeOffset? ConnectedAt { get; private set; }
    public DateTimeOffset? NextAttemptAt { get; private set; }
    /// <summary>Connections made after the first (a restarted process, a reconnected server).</summary>
    public int Reconnects { get; private set; }
    public string? ServerVersion { get; private set; }
    /// <summary>The tools agents may use: those whose definitions are pinned (see <see cref="McpToolPins"/>).</summary>
    public IReadOnlyList<McpFunction> Tools => _tools;
    /// <summary>Changes to the tool list an admin has not approved yet; those tools are not offered meanwhile.</summary>
    public IReadOnlyList<McpToolChange> HeldChanges => _pin?.Held ?? [];
    /// <summary>The hash of the held listing, to approve exactly what was reviewed.</summary>
    public string? PendingToolsHash => _pin?.PendingHash;

    /// <summary>What a model (and so a chat user) is told when this server cannot be used: no stderr, no internal error text.</summary>
    public string Unavailable => $"The MCP server '{Name}' is not connected right now; Agentry keeps trying to reconnect it. Try again later.";

    public void Start() => _run = Task.Run(RunAsync);

    async Task RunAsync()
    {
        var failures = 0;
        var everConnected = false;
        while (!_stopping.IsCancellationRequested)
        {
            McpClient? client = null;
            try
            {
                using var connecting = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
                connecting.CancelAfter(_options.ConnectTimeout);
                client = await McpClient.CreateAsync(CreateTransport(), ClientOptions(), _loggers, connecting.Token);
                await ListToolsAsync(client, connecting.Token);
                if (everConnected) Reconnects++;
                everConnected = true;
                failures = 0;
                ServerVersion = client.ServerInfo is { } info ? $"{info.Name} {info.Version}" : null;
                (_client, Status, Error, ConnectedAt, NextAttemptAt) = (client, Connected, null, _time.GetUtcNow(), null);
                LogConnected(_logger, Name, _tools.Count);

                var ended = await client.Completion.WaitAsync(_stopping.Token);
                _client = null;
                // Status and the next attempt change together: whoever reads "reconnecting" also reads when.
                (Status, Error, NextAttemptAt) = (Reconnecting, Describe(ended), NextAttempt(ref failures));
                LogDisconnected(_logger, Name, Error);
            }
            catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e)
            {
                _client = null;
                (Status, Error, NextAttemptAt) = (everConnected ? Reconnecting : Failed, Describe(e), NextAttempt(ref failures));
                LogConnectFailed(_logger, Name, Error);
            }
            finally
            {
                if (client is not null && !ReferenceEquals(client, _client)) await DisposeQuietlyAsync(client);
            }

            // Closing the dead client may have taken a moment of the delay already.
            var delay = NextAttemptAt is { } next && next > _time.GetUtcNow() ? next - _time.GetUtcNow() : TimeSpan.Zero;
            try { await Task.Delay(delay, _time, _stopping.Token); }
            catch (OperationCanceledException) { break; }
        }
    }

    /// <summary>When to try again after the <paramref name="failures"/>-th failure in a row: the reconnect delay, doubling, at most the maximum.</summary>
    DateTimeOffset NextAttempt(ref int failures) =>
        _time.GetUtcNow() + TimeSpan.FromSeconds(Math.Min(_options.ReconnectDelay.TotalSeconds * Math.Pow(2, Math.Min(failures++, 20)), _options.MaxReconnectDelay.TotalSeconds));

    IClientTransport CreateTransport()
    {
        var settings = Definition.Settings;
        if (settings.Transport == McpTransports.Http)
        {
            var options = new HttpClientTransportOptions
            {
                Endpoint = new Uri(settings.Url!),
                TransportMode = HttpTransportMode.StreamableHttp,
                Name = Name,
                ConnectionTimeout = _options.ConnectTimeout,
                AdditionalHeaders = settings.Headers.ToDictionary(h => h.Key, h => Resolve(h.Value), StringComparer.OrdinalIgnoreCase),
            };
            // A server an admin key added connects only to addresses the network guard allows, with no redirects; the
            // operator's own servers (settings) go where the operator says.
            return Definition.FromApi
                ? new HttpClientTransport(options, new HttpClient(_guard.CreateHandler()), _loggers, ownsHttpClient: true)
                : new HttpClientTransport(options, _loggers);
        }
        if (Definition.FromApi && !_options.AllowStdioFromApi)
            throw new McpUnavailableException("stdio servers added through the API are disabled (Mcp:AllowStdioFromApi is false); define it in Mcp:Servers instead.");
        // A local process gets a minimal environment (PATH, HOME, …) plus its own entries: never Agentry's keys.
        var environment = StdioClientTransportOptions.GetDefaultEnvironmentVariables();
        foreach (var (key, value) in settings.Env) environment[key] = Resolve(value);
        lock (_stderr)
        {
            _stderrHead.Clear();
            _stderr.Clear();
        }
        return new StdioClientTransport(new StdioClientTransportOptions
        {
            Command = settings.Command!,
            Arguments = settings.Args,
            WorkingDirectory = settings.WorkingDirectory,
            Name = Name,
            InheritEnvironmentVariables = false,
            EnvironmentVariables = environment,
            StandardErrorLines = line =>
            {
                var text = line.Trim();
                if (text.Length == 0) return;
                text = text.Length > 200 ? text[..200] + "…" : text;
                lock (_stderr)
                {
                    if (_stderrHead.Count < 4) _stderrHead.Add(text);
                    else
                    {
                        _stderr.Enqueue(text);
                        while (_stderr.Count > 3) _stderr.Dequeue();
                    }
                }
            },
        }, _loggers);
    }

    McpClientOptions ClientOptions() => new()
    {
        ClientInfo = new Implementation { Name = "agentry", Version = typeof(McpConnection).Assembly.GetName().Version?.ToString(3) ?? "1.0.0" },
        InitializationTimeout = _options.ConnectTimeout,
        Handlers = new McpClientHandlers
        {
            // Registered before connecting: a handler added afterwards could miss a change announced at once.
            NotificationHandlers =
            [
                new(NotificationMethods.ToolListChangedNotification, (_, _) =>
                {
                    if (_client is { } client) _ = Task.Run(() => RefreshAfterChangeAsync(client), CancellationToken.None);
                    return ValueTask.CompletedTask;
                }),
            ],
        },
    };

    async Task RefreshAfterChangeAsync(McpClient client)
    {
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token);
            timeout.CancelAfter(_options.ConnectTimeout);
            await ListToolsAsync(client, timeout.Token);
            LogToolsChanged(_logger, Name, _tools.Count);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            LogRefreshFailed(_logger, Name, Describe(e));
        }
    }

    async Task ListToolsAsync(McpClient client, CancellationToken cancellationToken)
    {
        var listed = await client.ListToolsAsync(cancellationToken: cancellationToken);
        _listed = listed.OrderBy(t => t.Name, StringComparer.Ordinal).Select(t => new McpFunction(this, t)).ToList();
        await CheckPinAsync(cancellationToken);
    }

    /// <summary>
    /// Offers the listed tools whose definitions are pinned, and holds the rest for an admin. Run on every listing and on
    /// each sync (an approval made on another instance). When the pin cannot be read, no tool is offered: fail closed.
    /// </summary>
    public async Task CheckPinAsync(CancellationToken cancellationToken)
    {
        var listed = _listed;
        if (_client is null && listed.Count == 0) return;
        try
        {
            var verdict = await _pins.CheckAsync(Name, listed.Select(t => t.Fingerprint).ToList(), Definition.AddedBy, cancellationToken);
            _pin = verdict;
            _tools = listed.Where(t => verdict.Approved.Contains(t.ToolName)).ToList();
        }
        catch (Exception e) when (e is System.Data.Common.DbException or InvalidOperationException or Microsoft.EntityFrameworkCore.DbUpdateException)
        {
            _tools = [];
            LogPinCheckFailed(_logger, Name, e.Message);
        }
    }

    /// <summary>Calls a tool; the result's text for the model, or an exception whose message the model reads.</summary>
    public async Task<string> CallAsync(string tool, IReadOnlyDictionary<string, object?> arguments, CancellationToken cancellationToken)
    {
        // What the model reads (and may repeat to a user) says what happened, not how: the detail is for admins, in the
        // log and GET /v1/mcp/servers.
        var client = _client ?? throw new McpUnavailableException(Unavailable);
        CallToolResult result;
        try
        {
            result = await client.CallToolAsync(tool, arguments, cancellationToken: cancellationToken);
        }
        catch (Exception e) when (e is ClientTransportClosedException or IOException or ObjectDisposedException)
        {
            LogCallFailed(_logger, Name, tool, e.Message);
            throw new McpUnavailableException($"The MCP server '{Name}' went away during the call; Agentry is restarting it.");
        }
        catch (McpProtocolException e)
        {
            LogCallFailed(_logger, Name, tool, e.Message);
            throw new McpUnavailableException($"The MCP server '{Name}' refused the call (error {(int)e.ErrorCode}).");
        }
        var text = Text(result);
        if (result.IsError == true) throw new McpUnavailableException(text.Length == 0 ? $"The tool '{tool}' reported an error." : text);
        return text;
    }

    static string Text(CallToolResult result)
    {
        var parts = result.Content.Select(block => block switch
        {
            TextContentBlock text => text.Text,
            ImageContentBlock image => $"[image, {image.MimeType}]",
            AudioContentBlock audio => $"[audio, {audio.MimeType}]",
            EmbeddedResourceBlock { Resource: TextResourceContents resource } => resource.Text,
            EmbeddedResourceBlock embedded => $"[resource {embedded.Resource.Uri}]",
            ResourceLinkBlock link => $"[resource link {link.Uri}{(link.Name is { Length: > 0 } name ? $" ({name})" : "")}]",
            _ => $"[{block.Type}]",
        }).ToList();
        if (parts.Count == 0 && result.StructuredContent is { } structured) return structured.GetRawText();
        return string.Join("\n", parts);
    }

    /// <summary>
    /// <c>${env:NAME}</c> is read from Agentry's environment when connecting, so the secret is never stored. A server
    /// added through the API may read only the names <see cref="McpOptions.AllowedEnvReferences"/> lists.
    /// </summary>
    string Resolve(string value)
    {
        if (EnvReference(value) is not { } name) return value;
        if (Definition.FromApi && !_options.AllowedEnvReferences.Contains(name, StringComparer.Ordinal))
            throw new McpUnavailableException($"it refers to ${{env:{name}}}, which Mcp:AllowedEnvReferences does not list.");
        return Environment.GetEnvironmentVariable(name) ?? "";
    }

    /// <summary>The variable a <c>${env:NAME}</c> value refers to, or null for a plain value.</summary>
    public static string? EnvReference(string value) =>
        value.StartsWith("${env:", StringComparison.Ordinal) && value.EndsWith('}') ? value[6..^1] : null;

    string Describe(ClientCompletionDetails details) => details switch
    {
        StdioClientCompletionDetails stdio => $"the process exited{(stdio.ExitCode is { } code ? $" with code {code}" : "")}{StderrTail()}",
        HttpClientCompletionDetails { HttpStatusCode: { } status } => $"the server answered HTTP {(int)status}",
        { Exception: { } e } => Shorten(e.Message),
        _ => "the connection closed",
    };

    string Describe(Exception e) => e switch
    {
        OperationCanceledException => $"no answer within {_options.ConnectTimeout.TotalSeconds:0.#} s{StderrTail()}",
        ClientTransportClosedException closed => Describe(closed.Details),
        _ => Shorten(e.Message) + StderrTail(),
    };

    /// <summary>What a stdio server wrote to stderr: its first lines (usually the error) and its last.</summary>
    string StderrTail()
    {
        lock (_stderr)
        {
            if (_stderrHead.Count == 0) return "";
            var lines = _stderrHead.Concat(_stderr.Count > 0 ? ["…", .. _stderr] : Array.Empty<string>());
            return $" (stderr: {string.Join(" | ", lines)})";
        }
    }

    static string Shorten(string text) => text.Length > 300 ? text[..300] + "…" : text;

    static async Task DisposeQuietlyAsync(McpClient client)
    {
        try { await client.DisposeAsync(); }
        catch (Exception e) when (e is not OutOfMemoryException) { }
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        try { await _run; }
        catch (Exception e) when (e is not OutOfMemoryException) { }
        if (_client is { } client) await DisposeQuietlyAsync(client);
        _client = null;
        _stopping.Dispose();
    }

    [LoggerMessage(EventId = 7101, Level = LogLevel.Information, Message = "MCP server {Server} connected with {Tools} tools")]
    static partial void LogConnected(ILogger logger, string server, int tools);

    [LoggerMessage(EventId = 7102, Level = LogLevel.Warning, Message = "MCP server {Server} disconnected ({Reason}); reconnecting")]
    static partial void LogDisconnected(ILogger logger, string server, string? reason);

    [LoggerMessage(EventId = 7103, Level = LogLevel.Warning, Message = "MCP server {Server} could not be connected: {Reason}")]
    static partial void LogConnectFailed(ILogger logger, string server, string? reason);

    [LoggerMessage(EventId = 7104, Level = LogLevel.Information, Message = "MCP server {Server} changed its tools; now {Tools}")]
    static partial void LogToolsChanged(ILogger logger, string server, int tools);

    [LoggerMessage(EventId = 7107, Level = LogLevel.Warning, Message = "MCP server {Server}: the call of {Tool} failed: {Reason}")]
    static partial void LogCallFailed(ILogger logger, string server, string tool, string reason);

    [LoggerMessage(EventId = 7108, Level = LogLevel.Error, Message = "MCP server {Server}: its pinned tool list could not be read ({Reason}); none of its tools are offered until it can")]
    static partial void LogPinCheckFailed(ILogger logger, string server, string reason);

    [LoggerMessage(EventId = 7105, Level = LogLevel.Warning, Message = "MCP server {Server} announced new tools but listing them failed: {Reason}")]
    static partial void LogRefreshFailed(ILogger logger, string server, string reason);
}
