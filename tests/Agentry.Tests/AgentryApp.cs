using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Agentry.Tests;

/// <summary>
/// The real service on a real Kestrel loopback port with its own SQLite file in a fresh temporary folder.
/// Settings are applied as configuration, exactly as an operator would; pass a <see cref="FakeOpenAiServer"/> to point
/// the <c>openai</c> endpoint at it (as OPENAI_API_KEY + OPENAI_BASE_URL would).
/// </summary>
public sealed class AgentryApp : WebApplicationFactory<Program>
{
    readonly Dictionary<string, string?> _settings;

    /// <summary>The bootstrap admin key every test app starts with (as AGENTRY_ADMIN_KEY would give it).</summary>
    public const string AdminKey = "agk_test-admin-key-0123456789abcdefghijklmnop";

    /// <summary>
    /// The secrets key every test app and process shares (as AGENTRY_SECRETS_KEY gives it to every instance of a deployment),
    /// so instances on one database read each other's key ring; a test of the key itself sets its own or none.
    /// </summary>
    public const string SecretsKey = "dGVzdC1zZWNyZXRzLWtleS0wMTIzNDU2Nzg5YWJjZGU=";

    readonly string _environment;

    readonly Action<IServiceCollection>? _services;

    public AgentryApp(FakeOpenAiServer? openAi = null, Dictionary<string, string?>? settings = null, string environment = "Testing",
        Action<IServiceCollection>? services = null)
    {
        _environment = environment;
        _services = services;
        DataDirectory = Directory.CreateTempSubdirectory("agentry-test-").FullName;
        _settings = new Dictionary<string, string?>
        {
            ["Data:Directory"] = DataDirectory,
            ["Security:AdminKey"] = AdminKey,
            ["Security:SecretsKey"] = SecretsKey,
            // Functional tests send many requests; the limiter tests set their own limits.
            ["RateLimit:PermitsPerMinute"] = "1000000",
            ["RateLimit:ConcurrentRequests"] = "10000",
            // Disposing a test app stops it at once; the drain pause is tested with the real process.
            ["Shutdown:DrainDelay"] = "00:00:00",
            ["Backup:Scheduled"] = "false", // the backup tests take theirs when they mean to
            ["Health:WarmupTimeout"] = "00:00:00", // ready at once; the warm-up has its own tests
            // Fast failure paths in tests; production defaults are in appsettings.json / ModelResilienceOptions.
            ["Models:Resilience:RetryBaseDelay"] = "00:00:00.050",
            ["Models:Resilience:AttemptTimeout"] = "00:00:10",
            ["Models:Resilience:TotalTimeout"] = "00:00:30",
        };
        if (openAi is not null)
        {
            _settings["Models:Endpoints:openai:ApiKey"] = "sk-test";
            _settings["Models:Endpoints:openai:BaseUrl"] = openAi.BaseUrl;
        }
        foreach (var (key, value) in settings ?? []) _settings[key] = value;
        // On PostgreSQL each data folder has a database of its own, so apps started on the same folder share it.
        if (!_settings.ContainsKey("Data:ConnectionString"))
            foreach (var (key, value) in TestDatabase.SettingsFor(_settings["Data:Directory"]!)) _settings[key] = value;
        UseKestrel(0);
        _contract = new Lazy<Task<ContractDocument>>(LoadContractAsync);
    }

    readonly Lazy<Task<ContractDocument>> _contract;

    public string DataDirectory { get; }

    /// <summary>A client authenticated with the admin key: the one place that gives test clients their key.</summary>
    public HttpClient Client => _client ??= CreateApiClient(AdminKey);
    HttpClient? _client;

    /// <summary>
    /// A client sending <paramref name="apiKey"/> as a bearer token, or no key at all when null. Every response it
    /// receives is checked against the served OpenAPI document (<see cref="ContractCheckingHandler"/>).
    /// </summary>
    public HttpClient CreateApiClient(string? apiKey)
    {
        StartServer();
        using var probe = CreateClient();
        var client = new HttpClient(new ContractCheckingHandler(() => _contract.Value) { InnerHandler = new SocketsHttpHandler() })
        {
            BaseAddress = probe.BaseAddress, Timeout = TimeSpan.FromSeconds(60),
        };
        client.DefaultRequestHeaders.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        if (apiKey is not null) client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        return client;
    }

    /// <summary>
    /// The official OpenAI .NET SDK pointed at this app with only the base URL and key changed, as a user would. Its HTTP
    /// goes through <see cref="CreateApiClient"/>, so every response is checked against the OpenAPI document too; it
    /// does not retry, so a test sees each status as the service sent it.
    /// </summary>
    public global::OpenAI.OpenAIClient OpenAiClient(string apiKey = AdminKey)
    {
        var http = CreateApiClient(null);
        return new global::OpenAI.OpenAIClient(new System.ClientModel.ApiKeyCredential(apiKey), new global::OpenAI.OpenAIClientOptions
        {
            Endpoint = new Uri(http.BaseAddress!, "/v1"),
            Transport = new System.ClientModel.Primitives.HttpClientPipelineTransport(http),
            RetryPolicy = new System.ClientModel.Primitives.ClientRetryPolicy(maxRetries: 0),
        });
    }

    /// <summary>Services that run the app on <paramref name="clock"/>: timeouts fire when a test advances it, not after wall-clock time.</summary>
    public static Action<IServiceCollection> On(Microsoft.Extensions.Time.Testing.FakeTimeProvider clock) => services => services.AddSingleton<TimeProvider>(clock);

    /// <summary>The document this service serves, fetched once.</summary>
    public Task<ContractDocument> ContractAsync() => _contract.Value;

    /// <summary>
    /// The document is the same whatever the settings, so it is fetched once per test run from a service of its own:
    /// fetching it from the app under test would spend that app's anonymous rate limit.
    /// </summary>
    static Task<ContractDocument> LoadContractAsync() => SharedContract.Value;

    static readonly Lazy<Task<ContractDocument>> SharedContract = new(async () =>
    {
        await using var reference = new AgentryApp();
        using var plain = reference.CreateClient();
        return ContractDocument.For(await plain.GetStringAsync("/openapi/v1.json"));
    });

    /// <summary>Creates a key through the admin API and returns (id, secret).</summary>
    public async Task<(string Id, string Secret)> CreateKeyAsync(string name, string[] scopes, object? limits = null)
    {
        var body = new Dictionary<string, object?> { ["name"] = name, ["scopes"] = scopes };
        if (limits is not null)
            foreach (var property in limits.GetType().GetProperties()) body[property.Name] = property.GetValue(limits);
        var response = await Client.PostAsJsonAsync("/v1/admin/keys", body);
        await Http.ExpectAsync(response, System.Net.HttpStatusCode.Created);
        var created = await Http.JsonAsync(response);
        return ((string)created["key"]!["id"]!, (string)created["secret"]!);
    }

    public T Service<T>() where T : notnull
    {
        StartServer();
        return Services.GetRequiredService<T>();
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment(_environment);
        foreach (var (key, value) in _settings) builder.UseSetting(key, value);
        if (_services is not null) builder.ConfigureServices(_services);
    }

    public override async ValueTask DisposeAsync()
    {
        _client?.Dispose();
        await StopGracefullyAsync();
        await base.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try { Directory.Delete(DataDirectory, recursive: true); } catch (IOException) { }
    }

    /// <summary>
    /// Stops the service the way SIGTERM does and waits until it has stopped, last flushes included, before the factory
    /// disposes it: the factory's own disposal can free the services while the host is still stopping.
    /// </summary>
    async Task StopGracefullyAsync()
    {
        IHostApplicationLifetime lifetime;
        try
        {
            lifetime = Services.GetRequiredService<IHostApplicationLifetime>();
        }
        catch (Exception)
        {
            return; // never started, or failed to start (those tests assert the start-up exception itself)
        }
        if (!lifetime.ApplicationStarted.IsCancellationRequested) return; // built but never started: nothing to stop
        var stopped = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var registration = lifetime.ApplicationStopped.Register(() => stopped.TrySetResult());
        lifetime.StopApplication();
        await stopped.Task.WaitAsync(TimeSpan.FromSeconds(30));
    }

    // Convenience calls used across the tests.

    /// <summary>Starts a conversation; the default agent is support, which answers itself (the concierge routes by meaning).</summary>
    public async Task<JsonObject> CreateConversationAsync(string agentId = "support", string? userId = null)
    {
        var response = await Client.PostAsJsonAsync("/v1/conversations", new { agentId, userId });
        await Http.ExpectAsync(response, System.Net.HttpStatusCode.Created);
        return await Http.JsonAsync(response);
    }

    public async Task<JsonObject> SendAsync(string conversationId, string content, string? agentId = null)
    {
        var response = await Client.PostAsJsonAsync($"/v1/conversations/{conversationId}/messages", new { content, agentId });
        await Http.ExpectAsync(response, System.Net.HttpStatusCode.OK);
        return await Http.JsonAsync(response);
    }

    public async Task<JsonArray> MessagesAsync(string conversationId)
    {
        var response = await Client.GetAsync($"/v1/conversations/{conversationId}/messages?limit=200");
        await Http.ExpectAsync(response, System.Net.HttpStatusCode.OK);
        return (await Http.JsonAsync(response))["data"]!.AsArray();
    }

    /// <summary>
    /// The audit events of one action, once the background writer has chained everything staged so far: events are
    /// staged with the change they describe and chained a moment later, and a fast database shows the gap.
    /// </summary>
    public async Task<JsonArray> AuditEventsAsync(string action, int limit = 100)
    {
        // The folder the service runs on: a test may point it at another one than its own (Data:Directory).
        await Wait.UntilAsync(async () => Convert.ToInt64(await TestDatabase.ScalarAsync(_settings["Data:Directory"]!, "SELECT count(*) FROM audit_outbox"),
            System.Globalization.CultureInfo.InvariantCulture) == 0, TimeSpan.FromSeconds(10), "staged audit events are chained");
        return (await Http.JsonAsync(await Client.GetAsync($"/v1/admin/audit?action={action}&limit={limit}")))["data"]!.AsArray();
    }
}
