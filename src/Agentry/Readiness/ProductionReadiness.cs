using Agentry.Data;
using Agentry.Mcp;
using Agentry.Models;
using Agentry.Observability;
using Agentry.Operations;
using Agentry.Operations.Backups;
using Agentry.Security;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Agentry.Readiness;

/// <summary>
/// The production checklist, automated: inspects the running configuration and the data against what an operator
/// needs before real users arrive, and says for each failed item the setting or command that fixes it. Used by
/// <c>GET /v1/admin/readiness</c> (and the console) and by <c>agentry doctor</c>, which reads the same settings.
/// </summary>
public sealed class ProductionReadiness(
    IOptions<SecurityOptions> security, IOptions<RateLimitOptions> limits, IOptions<ModelOptions> models, IOptions<BackupOptions> backupOptions,
    IOptions<MonitoringOptions> monitoring, IOptions<ObservabilityOptions> observability, IOptions<DataOptions> data, IOptions<McpOptions> mcpOptions,
    IOptions<HealthOptions> health, Backups backups, SharedState shared, McpServers mcp, ApiKeyStore keys, IServiceScopeFactory scopes,
    IConfiguration configuration, IHostEnvironment environment, TimeProvider time)
{
    public const string Security = "Security";
    public const string Monitoring = "Monitoring";
    public const string Operations = "Operations";
    public const string Reliability = "Reliability";

    /// <summary>A metrics key counts as scraping when it was used within this long.</summary>
    static readonly TimeSpan ScrapedWithin = TimeSpan.FromDays(1);

    /// <summary>Launchers that fetch a package at every start: without a pinned version, a new release runs unreviewed.</summary>
    static readonly string[] PackageRunners = ["npx", "uvx", "bunx", "pnpx"];

    public async Task<ReadinessReport> CheckAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        var checks = new List<ReadinessCheck>();
        checks.AddRange(SecurityChecks());
        checks.AddRange(await DataChecksAsync(now, cancellationToken));
        checks.AddRange(MonitoringChecks());
        checks.AddRange(OperationsChecks(now));
        checks.AddRange(ReliabilityChecks());
        var order = new[] { Security, Monitoring, Operations, Reliability };
        return ReadinessReport.From([.. checks.OrderBy(c => Array.IndexOf(order, c.Category))], now);
    }

    static ReadinessCheck Check(string id, string category, string title, int weight, bool passed, string found, string fix) =>
        new(id, category, title, passed, weight, found, passed ? null : fix);

    IEnumerable<ReadinessCheck> SecurityChecks()
    {
        var s = security.Value;
        yield return Check("security-enabled", Security, "API keys are required", 10, s.Enabled,
            s.Enabled ? "Every request needs an API key." : "Security:Enabled is false: every request is treated as admin.",
            "Remove ENABLE_SECURITY=false (Security:Enabled); it is allowed only in Development.");
        var wildcard = s.CorsAllowedOrigins.Contains("*");
        yield return Check("cors", Security, "No wildcard CORS origin", 5, !wildcard,
            wildcard ? "Security:CorsAllowedOrigins contains '*': any web page may call the API from a browser."
                : s.CorsAllowedOrigins.Length == 0 ? "No browser origin may call the API." : $"Allowed origins: {string.Join(", ", s.CorsAllowedOrigins)}.",
            "List your front-ends' origins in Security:CorsAllowedOrigins (e.g. https://app.example.com) instead of '*'.");
        var hsts = s.Hsts && !environment.IsDevelopment();
        yield return Check("https", Security, "HTTPS with HSTS behind the proxy", 5, hsts,
            hsts ? "Strict-Transport-Security is sent; terminate TLS at the proxy in front (deploy/compose/nginx.conf, an ingress)."
                : environment.IsDevelopment() ? "The Development environment sends no HSTS." : "Security:Hsts is false.",
            environment.IsDevelopment() ? "Run with ASPNETCORE_ENVIRONMENT=Production behind a TLS-terminating proxy." : "Set Security:Hsts=true and terminate TLS at the proxy.");
        var l = limits.Value;
        var limited = l.Enabled && l.PermitsPerMinute > 0 && l.ConcurrentRequests > 0;
        yield return Check("rate-limits", Security, "Rate limits per key", 5, limited,
            limited ? $"{l.PermitsPerMinute} requests a minute and {l.ConcurrentRequests} at a time per key (RateLimit)." : "RateLimit:Enabled is false.",
            "Set RateLimit:Enabled=true with RateLimit:PermitsPerMinute and RateLimit:ConcurrentRequests.");
        var capped = l.Enabled && l.TokensPerDay is > 0;
        yield return Check("spend-caps", Security, "Token budgets cap what a key can spend", 5, capped,
            capped ? $"{l.TokensPerDay:N0} tokens a day per key by default{(l.TokensPerMinute is { } m ? $", {m:N0} a minute" : "")}." : "No daily token budget: one key can spend without limit.",
            "Set RateLimit:TokensPerDay (and per key with 'tokensPerDay' when creating keys).");
        var secretsKey = !string.IsNullOrWhiteSpace(s.SecretsKey) || !string.IsNullOrWhiteSpace(s.SecretsKeyFile);
        yield return Check("secrets-key", Security, "The secrets key is kept outside the data folder", 5, secretsKey,
            secretsKey ? "Given by AGENTRY_SECRETS_KEY or AGENTRY_SECRETS_KEY_FILE." : "Generated into secrets.key in the data folder, next to the database it protects.",
            "Run 'agentry secrets new-key' and pass the value as AGENTRY_SECRETS_KEY (or a mounted file as AGENTRY_SECRETS_KEY_FILE).");
    }

    /// <summary>Checks that read the database: the bootstrap key, the metrics key, the schema.</summary>
    async Task<IEnumerable<ReadinessCheck>> DataChecksAsync(DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<AgentryDbContext>();
        string? unreadable = null;
        if (db.IsSqlite() && !File.Exists(new SqliteConnectionStringBuilder(db.Database.GetConnectionString()).DataSource))
            unreadable = "There is no database yet.";
        else
            try
            {
                return
                [
                    await BootstrapKeyAsync(db, cancellationToken),
                    await MetricsKeyAsync(db, now, cancellationToken),
                    await SchemaAsync(db, cancellationToken),
                ];
            }
            catch (Exception e) when (e is System.Data.Common.DbException or InvalidOperationException or TimeoutException)
            {
                unreadable = $"The database could not be read: {e.Message}";
            }
        // Every item is still listed (and failed), so the score is always out of the same 100 points.
        const string start = "Start the service once (or run 'agentry migrate'); check Data:ConnectionString (DATABASE_URL) and '/health/ready'.";
        return
        [
            Check("bootstrap-key", Security, BootstrapTitle, 5, false, unreadable, start),
            Check("metrics", Monitoring, MetricsTitle, 8, false, unreadable, start),
            Check("database", Reliability, DatabaseTitle, 4, false, unreadable, start),
        ];
    }

    const string BootstrapTitle = "The first admin key is replaced or rotated";
    const string MetricsTitle = "Metrics are scraped with a metrics key";
    const string DatabaseTitle = "The database exists and its schema is current";

    async Task<ReadinessCheck> BootstrapKeyAsync(AgentryDbContext db, CancellationToken cancellationToken)
    {
        const string fix = "Create a named admin key (POST /v1/admin/keys or 'agentry keys create --name ops --scopes admin'), then revoke " +
            "'bootstrap-admin' (DELETE /v1/admin/keys/{id}) or rotate it (POST /v1/admin/keys/{id}/rotate).";
        if (!security.Value.Enabled) return Check("bootstrap-key", Security, BootstrapTitle, 5, false, "Security is off, so no key is checked.", fix);
        var bootstrap = await db.ApiKeys.AsNoTracking().Where(k => k.Name == "bootstrap-admin" && k.RevokedAt == null).Select(k => k.Hash).ToListAsync(cancellationToken);
        if (bootstrap.Count == 0) return Check("bootstrap-key", Security, BootstrapTitle, 5, true, "No bootstrap key is active.", fix);
        // Still its first secret when it matches where that secret came from: the setting, the mounted file, or the
        // admin-key.txt written at first start (rotation gives it a new secret; retention may delete the audit of it).
        var first = FirstSecrets().Select(ApiKeySecrets.Hash).ToHashSet(StringComparer.Ordinal);
        var unchanged = bootstrap.Any(first.Contains);
        return Check("bootstrap-key", Security, BootstrapTitle, 5, !unchanged,
            unchanged ? "The key created at first start (from AGENTRY_ADMIN_KEY, its file or admin-key.txt) is still active with that secret."
                : "The bootstrap key's secret was rotated since it was first set.",
            fix);
    }

    IEnumerable<string> FirstSecrets()
    {
        var s = security.Value;
        if (!string.IsNullOrWhiteSpace(s.AdminKey)) yield return s.AdminKey.Trim();
        foreach (var file in new[] { s.AdminKeyFile, Path.Combine(data.Value.FullDirectory(environment.ContentRootPath), KeyBootstrap.KeyFileName) })
            if (!string.IsNullOrWhiteSpace(file) && File.Exists(file) && File.ReadAllText(file).Trim() is { Length: > 0 } secret)
                yield return secret;
    }

    async Task<ReadinessCheck> MetricsKeyAsync(AgentryDbContext db, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var candidates = await db.ApiKeys.AsNoTracking().Where(k => k.RevokedAt == null && k.Scopes.Contains(Scopes.Metrics))
            .Select(k => new { k.Id, k.Name, k.Scopes, k.LastUsedAt, k.ExpiresAt }).ToListAsync(cancellationToken);
        var metricsKeys = candidates.Where(k => k.Scopes.Split(' ').Contains(Scopes.Metrics) && (k.ExpiresAt is null || k.ExpiresAt > now)).ToList();
        var scraped = metricsKeys.Select(k => Max(k.LastUsedAt, keys.UnwrittenLastUse(k.Id))).Where(at => at is not null && now - at < ScrapedWithin).Max();
        var found = metricsKeys.Count == 0 ? "No active key has the 'metrics' scope."
            : scraped is null ? $"{metricsKeys.Count} metrics key(s), none used in the last day: nothing is scraping /metrics."
            : $"/metrics was scraped with a metrics key at {scraped:u}.";
        return Check("metrics", Monitoring, MetricsTitle, 8, scraped is not null, found,
            "Create a key with only the 'metrics' scope and give it to Prometheus as its bearer token (deploy/prometheus.yml).");
    }

    static DateTimeOffset? Max(DateTimeOffset? a, DateTimeOffset? b) => a is null ? b : b is null ? a : a > b ? a : b;

    static async Task<ReadinessCheck> SchemaAsync(AgentryDbContext db, CancellationToken cancellationToken)
    {
        var pending = await db.PendingMigrationsAsync(cancellationToken);
        return Check("database", Reliability, DatabaseTitle, 4, pending.Count == 0,
            pending.Count == 0 ? "Every migration is applied." : $"{pending.Count} migration(s) pending: {string.Join(", ", pending)}.",
            "Take a backup ('agentry backup'), then run 'agentry migrate'.");
    }

    IEnumerable<ReadinessCheck> MonitoringChecks()
    {
        var webhook = monitoring.Value.WebhookUrl;
        var placeholder = webhook?.Contains("change-me", StringComparison.OrdinalIgnoreCase) == true;
        var alerting = !string.IsNullOrWhiteSpace(webhook) && !placeholder && Uri.TryCreate(webhook, UriKind.Absolute, out _);
        yield return Check("alert-webhook", Monitoring, "Alerts reach someone", 8, alerting,
            alerting ? $"Raised and cleared alerts are posted to {new Uri(webhook!).GetLeftPart(UriPartial.Authority)}."
                : placeholder ? "Monitoring:WebhookUrl is still the example's placeholder." : "Alerts are only logged: nobody is told when one is raised.",
            "Set Monitoring:WebhookUrl (and Monitoring:WebhookSecret to sign the calls) to your paging or chat webhook.");
        var level = configuration["Logging:LogLevel:Default"];
        var verbose = !environment.IsDevelopment() && level is not null && (level.Equals("Debug", StringComparison.OrdinalIgnoreCase) || level.Equals("Trace", StringComparison.OrdinalIgnoreCase));
        var content = observability.Value.RecordContent;
        yield return Check("log-level", Monitoring, "Logs at Information, without conversation text in traces", 4, !verbose && !content,
            verbose ? $"Logging:LogLevel:Default is {level}: logs grow fast and may carry more than they should."
                : content ? "Observability:RecordContent is true: prompts and replies leave in traces." : $"Default level {level ?? "Information"}.",
            verbose ? "Set LOG_LEVEL=info (Logging:LogLevel:Default)." : "Set Observability:RecordContent=false.");
    }

    IEnumerable<ReadinessCheck> OperationsChecks(DateTimeOffset now)
    {
        var model = models.Value.EffectiveDefaultModel;
        var real = !model.Equals(ModelOptions.Offline, StringComparison.OrdinalIgnoreCase);
        yield return Check("model-provider", Operations, "A real model provider answers", 6, real,
            real ? $"Agents that name no model use {model}." : "Agents answer with the built-in offline model, which only matches patterns.",
            "Set OPENAI_API_KEY (and OPENAI_BASE_URL for an OpenAI-compatible server), or Models:Endpoints and Models:DefaultModel.");
        var b = backupOptions.Value;
        yield return Check("backups-scheduled", Operations, "Backups are scheduled", 4, b.Scheduled,
            b.Scheduled ? $"Every {b.Interval}, keeping {b.Retention}." : "Backup:Scheduled is false.",
            "Set Backup:Scheduled=true (or run 'agentry backup' from cron) and Backup:Folder on storage that outlives the machine.");
        var last = backups.LastVerified;
        var recent = last is not null && now - last.CreatedAt <= b.Interval * 2;
        yield return Check("backup-verified", Operations, "The newest backup is verified and recent", 6, recent,
            last is null ? "No verified backup exists yet." : $"Newest verified backup {last.Id}, {(now - last.CreatedAt).TotalHours:0.#} hours old.",
            "Take one now with 'agentry backup' (or POST /v1/admin/backups) and check the schedule's log lines.");
        yield return Check("backup-encrypted", Operations, "Backups are encrypted", 4, backups.Encrypts,
            backups.Encrypts ? "Backups are encrypted with AGENTRY_BACKUP_KEY." : "Backups hold conversations in the clear.",
            "Run 'agentry secrets new-key' and pass the value as AGENTRY_BACKUP_KEY; keep it apart from the backups.");
    }

    IEnumerable<ReadinessCheck> ReliabilityChecks()
    {
        var postgres = data.Value.EffectiveProvider == DataOptions.Postgres;
        yield return Check("postgres", Reliability, "PostgreSQL holds the data", 6, postgres,
            postgres ? "Data:Provider is postgres." : "SQLite: one machine, one instance.",
            "Set DATABASE_URL=postgres://… (Data:Provider=postgres); see docs/deployment.md.");
        yield return Check("redis", Reliability, "Redis shares limits, budgets and streams between instances", 5, shared.IsConfigured,
            shared.IsConfigured ? "REDIS_URL is set." : "Limits, budgets, caches and resumable streams are kept per instance.",
            "Set REDIS_URL=redis://…; with more than one instance it is required for limits to hold.");
        var free = DiskSpaceHealthCheck.FreeBytes(data.Value.FullDirectory(environment.ContentRootPath)) / 1024 / 1024;
        var headroom = Math.Max(health.Value.MinFreeDiskMegabytes * 4, 2048);
        yield return Check("disk", Reliability, "Disk headroom for the data folder", 3, free >= headroom,
            $"{free:N0} MB free where the data folder is (wanted: {headroom:N0} MB).",
            "Give the data folder's disk more space, or lower Backup:Retention.");
        var unpinned = UnpinnedMcpServers().ToList();
        var held = mcp.All.Where(c => c.HeldChanges.Count > 0).Select(c => c.Name).ToList();
        yield return Check("mcp-pinned", Reliability, "MCP servers are pinned", 2, unpinned.Count == 0 && held.Count == 0,
            unpinned.Count > 0 ? $"Fetched at an unpinned version at every start: {string.Join(", ", unpinned)}."
                : held.Count > 0 ? $"Changed tool lists wait for approval: {string.Join(", ", held)}." : "Every MCP server runs a pinned version with an approved tool list.",
            unpinned.Count > 0 ? "Name an exact version in the server's arguments (e.g. @modelcontextprotocol/server-everything@2025.11.25)."
                : "Review and approve the changed tools (POST /v1/mcp/servers/{name}/approve-tools).");
    }

    /// <summary>Stdio servers started by a package runner whose package has no exact version.</summary>
    IEnumerable<string> UnpinnedMcpServers()
    {
        var definitions = mcpOptions.Value.Servers.Select(s => (s.Key, s.Value)).Concat(mcp.All.Select(c => (c.Name, c.Definition.Settings))).DistinctBy(d => d.Item1);
        foreach (var (name, settings) in definitions)
        {
            if (settings.Transport != McpTransports.Stdio || settings.Command is not { } command) continue;
            if (!PackageRunners.Contains(Path.GetFileNameWithoutExtension(command), StringComparer.OrdinalIgnoreCase)) continue;
            var package = settings.Args.FirstOrDefault(a => !a.StartsWith('-'));
            if (package is null || !HasVersion(package)) yield return name;
        }
    }

    /// <summary><c>@scope/name@1.2.3</c> or <c>name@1.2.3</c> (or <c>name==1.2.3</c> for uvx): a version that starts with a digit.</summary>
    static bool HasVersion(string package)
    {
        var at = package.LastIndexOf('@');
        if (at > 0) return package.Length > at + 1 && char.IsDigit(package[at + 1]);
        var eq = package.IndexOf("==", StringComparison.Ordinal);
        return eq > 0 && package.Length > eq + 2 && char.IsDigit(package[eq + 2]);
    }
}
