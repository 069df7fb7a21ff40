using System.Collections.Concurrent;
using System.Text.Json;
using Agentry.Data;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;

namespace Agentry.Mcp;

/// <summary>
/// The MCP servers this instance is connected to: those in settings, and those added through the API (stored in the
/// database, so they survive a restart and every instance connects them; each instance re-reads the list every
/// <see cref="McpOptions.SyncInterval"/>). Connecting happens in the background: start-up never waits for a server.
/// </summary>
public sealed partial class McpServers(IOptions<McpOptions> options, IServiceScopeFactory scopes, IDataProtectionProvider protection, McpToolPins pins,
    McpNetworkGuard guard, ILoggerFactory loggers, TimeProvider time, ILogger<McpServers> logger) : BackgroundService
{
    public const string SourceSettings = "settings";
    public const string SourceApi = "api";
    static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    readonly ConcurrentDictionary<string, McpConnection> _connections = new(StringComparer.Ordinal);
    readonly IDataProtector _secrets = protection.CreateProtector("Agentry.Mcp.ServerSecrets");
    readonly SemaphoreSlim _changing = new(1, 1);

    public IEnumerable<McpConnection> All => _connections.Values.OrderBy(c => c.Name, StringComparer.Ordinal);

    public McpConnection? Get(string name) => _connections.GetValueOrDefault(name);

    /// <summary>Whether an agent may name this server's tools: it is configured (connected or not).</summary>
    public bool IsKnown(string server) => _connections.ContainsKey(server) || options.Value.Servers.ContainsKey(server);

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        foreach (var (name, settings) in options.Value.Servers) Connect(new McpServerDefinition(name, settings, SourceSettings, SourceSettings));
        try
        {
            await SyncAsync(cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // The database check reports the database; MCP servers added through the API connect on the next sync.
            LogSyncFailed(logger, e.Message);
        }
        await base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.SyncInterval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                try
                {
                    await SyncAsync(stoppingToken);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    LogSyncFailed(logger, e.Message);
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Stopping (or never started: a host that failed to start disposes its services): nothing to sync any more.
        }
    }

    /// <summary>
    /// Connects servers added through the API (here or on another instance), drops those removed, and applies tool
    /// approvals made on another instance.
    /// </summary>
    async Task SyncAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<AgentryDbContext>();
        var stored = await db.McpServers.AsNoTracking().ToListAsync(cancellationToken);
        await _changing.WaitAsync(cancellationToken);
        try
        {
            foreach (var row in stored.Where(r => !_connections.ContainsKey(r.Name))) Connect(Definition(row));
            var names = stored.Select(r => r.Name).ToHashSet(StringComparer.Ordinal);
            foreach (var gone in _connections.Values.Where(c => c.Definition.Source == SourceApi && !names.Contains(c.Name)).ToList())
                await DisconnectAsync(gone.Name);
        }
        finally
        {
            _changing.Release();
        }
        foreach (var connection in _connections.Values.Where(c => c.Status == McpConnection.Connected)) await connection.CheckPinAsync(cancellationToken);
    }

    void Connect(McpServerDefinition definition)
    {
        var connection = new McpConnection(definition, options.Value, pins, guard, loggers, time);
        if (_connections.TryAdd(definition.Name, connection)) connection.Start();
    }

    async Task DisconnectAsync(string name)
    {
        if (_connections.TryRemove(name, out var connection)) await connection.DisposeAsync();
    }

    /// <summary>
    /// Stores a server, committing the staged audit event with it, and connects it; <c>null</c> when the name is taken (in
    /// settings or the database).
    /// </summary>
    public async Task<McpConnection?> AddAsync(string name, McpServerSettings settings, string? createdBy, AgentryDbContext db, CancellationToken cancellationToken)
    {
        await _changing.WaitAsync(cancellationToken);
        try
        {
            if (IsKnown(name) || await db.McpServers.AnyAsync(s => s.Name == name, cancellationToken)) return null;
            db.McpServers.Add(new StoredMcpServer
            {
                Name = name,
                Definition = JsonSerializer.Serialize(new McpServerSettings
                {
                    Transport = settings.Transport, Command = settings.Command, Args = settings.Args, WorkingDirectory = settings.WorkingDirectory, Url = settings.Url,
                    Env = settings.Env.ToDictionary(e => e.Key, _ => "", StringComparer.Ordinal),
                    Headers = settings.Headers.ToDictionary(h => h.Key, _ => "", StringComparer.OrdinalIgnoreCase),
                }, Json),
                Secrets = _secrets.Protect(JsonSerializer.Serialize(new StoredSecrets(settings.Env, settings.Headers), Json)),
                CreatedBy = createdBy,
                CreatedAt = time.GetUtcNow(),
            });
            await db.SaveChangesAsync(cancellationToken);
            Connect(new McpServerDefinition(name, settings, SourceApi, createdBy ?? SourceApi));
            return _connections[name];
        }
        finally
        {
            _changing.Release();
        }
    }

    /// <summary>
    /// Removes an API-added server, committing whatever else the context holds (the staged audit event) in the same
    /// transaction: <c>null</c> when there is none, <c>false</c> when it comes from settings.
    /// </summary>
    public async Task<bool?> RemoveAsync(string name, AgentryDbContext db, CancellationToken cancellationToken)
    {
        if (options.Value.Servers.ContainsKey(name)) return false;
        await _changing.WaitAsync(cancellationToken);
        try
        {
            var row = await db.McpServers.FirstOrDefaultAsync(s => s.Name == name, cancellationToken);
            if (row is null && !_connections.ContainsKey(name)) return null;
            if (row is not null) db.McpServers.Remove(row);
            await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
            await McpToolPins.ForgetAsync(name, db, cancellationToken); // added again later, it is pinned afresh
            await db.SaveChangesAsync(cancellationToken);
            await transaction.CommitAsync(cancellationToken);
            await DisconnectAsync(name);
            return true;
        }
        finally
        {
            _changing.Release();
        }
    }

    McpServerDefinition Definition(StoredMcpServer row)
    {
        var settings = JsonSerializer.Deserialize<McpServerSettings>(row.Definition, Json)!;
        var secrets = JsonSerializer.Deserialize<StoredSecrets>(_secrets.Unprotect(row.Secrets), Json)!;
        settings.Env = new Dictionary<string, string>(secrets.Env, StringComparer.Ordinal);
        settings.Headers = new Dictionary<string, string>(secrets.Headers, StringComparer.OrdinalIgnoreCase);
        return new McpServerDefinition(row.Name, settings, SourceApi, row.CreatedBy ?? SourceApi);
    }

    /// <summary>
    /// Makes the held change of a server's tools its pin (audited with <paramref name="actor"/>) and offers its tools at
    /// once here; other instances follow on their next sync. False when nothing is held or the hash is not the held one.
    /// </summary>
    public async Task<bool> ApproveToolsAsync(string name, string? expectedHash, Audit.AuditActor actor, AgentryDbContext db, CancellationToken cancellationToken)
    {
        if (!await pins.ApproveAsync(name, expectedHash, actor, db, cancellationToken)) return false;
        if (Get(name) is { } connection) await connection.CheckPinAsync(cancellationToken);
        return true;
    }

    /// <summary>A tool by its Agentry name (<c>mcp:server/tool</c>) or the function name a model calls it by.</summary>
    public McpFunction? FindTool(string name)
    {
        if (McpToolNames.TryParse(name, out var server, out var tool))
            return Get(server)?.Tools.FirstOrDefault(t => t.ToolName == tool);
        var separator = name.IndexOf("__", StringComparison.Ordinal);
        if (separator <= 0 || Get(name[..separator]) is not { } connection) return null;
        return connection.Tools.FirstOrDefault(t => t.Name == name);
    }

    /// <summary>The tools an agent's <c>tools</c> entry names right now: one tool, or all of a server's for <c>mcp:server/*</c>.</summary>
    public IEnumerable<AIFunction> Resolve(string entry)
    {
        if (!McpToolNames.TryParse(entry, out var server, out var tool) || Get(server) is not { } connection) return [];
        return tool == McpToolNames.AllTools ? connection.Tools : connection.Tools.Where(t => t.ToolName == tool);
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        foreach (var name in _connections.Keys.ToList()) await DisconnectAsync(name);
    }

    sealed record StoredSecrets(Dictionary<string, string> Env, Dictionary<string, string> Headers);

    [LoggerMessage(EventId = 7010, Level = LogLevel.Warning, Message = "Reading the MCP servers added through the API failed: {Reason}")]
    static partial void LogSyncFailed(ILogger logger, string reason);
}
