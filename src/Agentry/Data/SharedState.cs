using StackExchange.Redis;

namespace Agentry.Data;

public sealed class RedisOptions
{
    public const string Section = "Redis";

    /// <summary>
    /// StackExchange.Redis configuration (<c>host:6379,password=…,ssl=true</c>) or a <c>redis://</c> URL. Alias: REDIS_URL.
    /// Empty: one instance keeps limits, gates and caches in process.
    /// </summary>
    public string? Configuration { get; set; }

    /// <summary>Prefix of every key and channel, so several deployments can share one Redis.</summary>
    public string KeyPrefix { get; set; } = "agentry:";

    /// <summary>How long a conversation stays locked by a turn whose instance died without releasing it.</summary>
    public TimeSpan GateLease { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// What token budgets do while Redis cannot be reached: <c>refuse</c> (a model call is refused with 503 and
    /// Retry-After, so no key spends past its budget) or <c>local</c> (each instance counts on its own: with N instances a
    /// key may spend N times its budget, and a day's count starts again from zero). Unset: <c>refuse</c> in Production,
    /// <c>local</c> elsewhere. Request and concurrency limits always fall back to each instance's own counts: they
    /// protect capacity, and refusing every request would turn a Redis outage into a full one. Tool policy caps are kept
    /// in the database and do not depend on Redis.
    /// </summary>
    public string? OnFailure { get; set; }

    public const string Refuse = "refuse";
    public const string Local = "local";

    /// <summary>The effective failure mode for this environment.</summary>
    public string FailureMode(IHostEnvironment environment) => OnFailure ?? (environment.IsProduction() ? Refuse : Local);

    public bool IsConfigured => !string.IsNullOrWhiteSpace(Configuration);

    /// <summary>The configuration in StackExchange.Redis form, whichever form was given.</summary>
    public ConfigurationOptions ToConfigurationOptions()
    {
        var configured = Configuration!.Trim();
        ConfigurationOptions options;
        if (Uri.TryCreate(configured, UriKind.Absolute, out var url) && url.Scheme is "redis" or "rediss")
        {
            options = new ConfigurationOptions { Ssl = url.Scheme == "rediss" };
            options.EndPoints.Add(url.Host, url.IsDefaultPort || url.Port < 0 ? 6379 : url.Port);
            if (url.UserInfo.Split(':', 2) is [var user, var password])
            {
                if (user.Length > 0) options.User = Uri.UnescapeDataString(user);
                options.Password = Uri.UnescapeDataString(password);
            }
            if (int.TryParse(url.AbsolutePath.Trim('/'), out var database)) options.DefaultDatabase = database;
        }
        else options = ConfigurationOptions.Parse(configured);
        // Start and keep serving while Redis is away: the shared pieces fall back to this instance's own state. A command
        // sent while the connection is down fails at once rather than waiting in the client's backlog for a reconnect
        // (up to the 5 s command timeout, for each of a request's limit, gate and budget calls): an outage costs a request
        // its fallback, not seconds.
        options.AbortOnConnectFail = false;
        options.BacklogPolicy = BacklogPolicy.FailFast;
        options.ClientName ??= $"agentry-{Environment.MachineName}-{Environment.ProcessId}";
        return options;
    }
}

/// <summary>
/// What several instances share through Redis (request and token limits, conversation gates, key revocations, alert
/// de-duplication). Connected lazily on first use and reconnected by the multiplexer; <see cref="Database"/> is null
/// without Redis. Callers fall back to their in-process behaviour when Redis is unreachable and say so in the log.
/// </summary>
public sealed partial class SharedState(Microsoft.Extensions.Options.IOptions<RedisOptions> options, IHostEnvironment environment, ILogger<SharedState> logger) : IAsyncDisposable
{
    readonly Lazy<ConnectionMultiplexer?> _connection = new(() =>
        options.Value.IsConfigured ? ConnectionMultiplexer.Connect(options.Value.ToConfigurationOptions()) : null);

    long _lastFallbackLog;
    long _lastRefusalLog;

    public bool IsConfigured => options.Value.IsConfigured;
    public string Prefix => options.Value.KeyPrefix;
    public IConnectionMultiplexer? Connection => _connection.Value;
    public IDatabase? Database => _connection.Value?.GetDatabase();
    public RedisOptions Options => options.Value;

    /// <summary>Whether token budgets refuse (rather than count locally) while Redis is unreachable (<see cref="RedisOptions.OnFailure"/>).</summary>
    public bool RefusesWhenDown => options.Value.FailureMode(environment) == RedisOptions.Refuse;

    /// <summary>Logs, at most once a minute, that a Redis call failed and this instance used its own state instead.</summary>
    public void FellBack(Exception failure, string what)
    {
        if (FirstInAMinute(ref _lastFallbackLog)) LogFellBack(failure, what);
    }

    /// <summary>Logs, at most once a minute, that a Redis call failed and what depended on it was refused (Redis:OnFailure is refuse).</summary>
    public void Refused(Exception failure, string what)
    {
        if (FirstInAMinute(ref _lastRefusalLog)) LogRefused(failure, what);
    }

    static bool FirstInAMinute(ref long lastLogged)
    {
        var now = Environment.TickCount64;
        var last = Interlocked.Read(ref lastLogged);
        if (now - last < 60_000 && last != 0) return false;
        return Interlocked.CompareExchange(ref lastLogged, now, last) == last;
    }

    public async ValueTask DisposeAsync()
    {
        if (_connection.IsValueCreated && _connection.Value is { } connection) await connection.DisposeAsync();
    }

    [LoggerMessage(EventId = 6000, Level = LogLevel.Warning, Message = "Redis is unavailable; {What} uses this instance's own state until it is back")]
    partial void LogFellBack(Exception exception, string what);

    [LoggerMessage(EventId = 6002, Level = LogLevel.Warning, Message = "Redis is unavailable; {What} are refused until it is back (Redis:OnFailure is refuse)")]
    partial void LogRefused(Exception exception, string what);
}
