using System.Diagnostics;
using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using Agentry.Tests.Data;
using Npgsql;
using Xunit.Abstractions;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;
using YamlDotNet.Serialization;

namespace Agentry.Tests.Operations;

/// <summary>
/// The deployment files under <c>deploy/</c> start the service as they are written. No container runtime works on
/// these machines, so each test reads what a runtime would (the Dockerfile's final stage, compose's env_file, the
/// Kubernetes ConfigMap and Secret, the systemd EnvironmentFile), starts the published build from its own folder with
/// exactly those variables and arguments, and calls the probes the files declare. Only what cannot be the same here is
/// replaced, each named where it happens: the listening port (8080 may be taken), the data folder, the database and
/// Redis addresses (the test's own servers) and the admin key placeholder (which the service refuses, as tested).
/// </summary>
[Trait("Database", "own")]
public sealed class DeploymentTests(PublishedBuild build, ITestOutputHelper output) : IClassFixture<PublishedBuild>, IDisposable
{
    readonly string _work = Directory.CreateTempSubdirectory("agentry-deploy-").FullName;
    readonly List<PublishedProcess> _processes = [];
    const string TestAdminKey = "deployment-test-admin-key-0123456789";

    [Fact]
    public async Task The_container_image_settings_start_the_published_app_and_its_healthcheck_passes()
    {
        var dockerfile = Dockerfile.Read(Path.Combine(PublishedBuild.Repository, "deploy", "Dockerfile"));
        Assert.Equal("/app", dockerfile.WorkingDirectory);
        Assert.Equal(["dotnet", "agentry.dll", "serve"], dockerfile.Command);
        Assert.Equal(dockerfile.Environment["ASPNETCORE_HTTP_PORTS"], dockerfile.Exposed);
        Assert.Equal(dockerfile.Environment["ASPNETCORE_HTTP_PORTS"], dockerfile.HealthCheckPort);
        Assert.NotEqual("root", dockerfile.User);

        var environment = new Dictionary<string, string>(dockerfile.Environment);
        var port = Replace(environment, "ASPNETCORE_HTTP_PORTS", FreePort());
        var data = Replace(environment, "AGENTRY_DATA_DIR", Folder("data"));
        var app = Start(dockerfile.Command[2..], environment);
        await app.UntilHealthyAsync(port, dockerfile.HealthCheckPath);
        await app.UntilHealthyAsync(port, "/health/ready"); // after the warm-up (the shipped help-center indexed)

        // A fresh container with no key configured makes an admin key and says where it is, without printing it to the log.
        var keyFile = Path.Combine(data, "admin-key.txt");
        Assert.True(File.Exists(keyFile), app.Output);
        var key = (await File.ReadAllTextAsync(keyFile)).Trim();
        Assert.DoesNotContain(key, app.Output);
        Assert.Equal(HttpStatusCode.OK, await PublishedProcess.StatusAsync(port, "/health", key));
    }

    [Fact]
    public async Task The_compose_settings_migrate_then_start_two_instances_on_postgres_and_redis_behind_the_balancers_upstreams()
    {
        var folder = Path.Combine(PublishedBuild.Repository, "deploy", "compose");
        var compose = Yaml.Documents(Path.Combine(folder, "compose.yaml")).Single();
        var services = Yaml.Map(Yaml.At(compose, "services"));
        var instances = services.Where(s => Yaml.At(s.Value, "env_file") as string == "agentry.env").Select(s => s.Key).ToList();
        Assert.Equal(["migrate", "agentry-1", "agentry-2"], instances);
        var upstreams = Regex.Matches(await File.ReadAllTextAsync(Path.Combine(folder, "nginx.conf")), @"server (\S+):(\d+)").Select(m => (m.Groups[1].Value, m.Groups[2].Value)).ToList();

        var environment = EnvFile.Read(Path.Combine(folder, "agentry.env.example"));
        Assert.All(upstreams, u => Assert.Equal(environment["ASPNETCORE_HTTP_PORTS"], u.Item2));
        Assert.Equal(["agentry-1", "agentry-2"], upstreams.Select(u => u.Item1));
        Assert.All(upstreams, u => Assert.Equal("service_completed_successfully", Yaml.At(services[u.Item1], "depends_on", "migrate", "condition")));
        Assert.Contains("@postgres:5432/", environment["DATABASE_URL"]);
        Assert.Contains("redis:6379", environment["REDIS_URL"]);

        await using var redis = await RedisServer.StartAsync();
        environment["DATABASE_URL"] = DatabaseUrl(); // the compose service 'postgres'
        environment["REDIS_URL"] = $"redis://127.0.0.1:{redis.Port}"; // the compose service 'redis'
        environment["AGENTRY_ADMIN_KEY"] = TestAdminKey; // the example's placeholder is refused (see the systemd test)
        Assert.StartsWith("change-me", environment["AGENTRY_SECRETS_KEY"]); // every instance is given the same secrets key
        environment["AGENTRY_SECRETS_KEY"] = AgentryApp.SecretsKey;
        Replace(environment, "AGENTRY_DATA_DIR", Folder("shared-data"));
        // The rest of the production set-up docs/deployment.md describes: a backup key, an alert webhook (the example's
        // placeholders replaced, here by the fake server's receiver) and a real model (the example's commented lines).
        Assert.StartsWith("change-me", environment["AGENTRY_BACKUP_KEY"]);
        environment["AGENTRY_BACKUP_KEY"] = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
        await using var openAi = new FakeOpenAiServer();
        Assert.Contains("change-me", environment["Monitoring__WebhookUrl"]);
        Replace(environment, "Monitoring__WebhookUrl", openAi.RootUrl + "/hooks");
        environment["OPENAI_BASE_URL"] = openAi.BaseUrl;
        environment["OPENAI_API_KEY"] = "sk-deployment-test";

        var migrate = await RunAsync(Command(services["migrate"]), environment);
        Assert.True(migrate.ExitCode == 0, migrate.Output);
        var ports = new List<string>();
        var started = new List<PublishedProcess>();
        foreach (var instance in upstreams.Select(u => u.Item1))
        {
            var own = new Dictionary<string, string>(environment);
            ports.Add(Replace(own, "ASPNETCORE_HTTP_PORTS", FreePort()));
            started.Add(Start(Command(services[instance]), own));
        }
        for (var i = 0; i < ports.Count; i++) await started[i].UntilHealthyAsync(ports[i], "/health/ready");

        // A conversation started on one instance continues on the other, as it may behind the balancer.
        using var first = Client(ports[0]);
        using var second = Client(ports[1]);
        var reply = JsonDocument.Parse(await (await first.PostAsync("/v1/chat", Json(new { message = "Hello", agentId = "support" }))).Content.ReadAsStringAsync());
        var conversation = reply.RootElement.GetProperty("conversationId").GetString();
        var continued = await second.PostAsync("/v1/chat", Json(new { message = "Still there?", conversationId = conversation }));
        Assert.Equal(HttpStatusCode.OK, continued.StatusCode);

        // The production checklist after the documented first steps scores at least 95, through the API and `agentry doctor`.
        var before = await ReadinessAsync(first);
        Assert.Contains(before.Failed, c => c.StartsWith("bootstrap-key", StringComparison.Ordinal));
        var admin = await CreateKeyAsync(first, "ops-admin", "admin");
        using var operatorClient = Client(ports[0], admin.Secret);
        var bootstrap = JsonDocument.Parse(await operatorClient.GetStringAsync("/v1/admin/keys")).RootElement.GetProperty("data").EnumerateArray()
            .Single(k => k.GetProperty("name").GetString() == "bootstrap-admin").GetProperty("id").GetString();
        Assert.Equal(HttpStatusCode.OK, (await operatorClient.DeleteAsync($"/v1/admin/keys/{bootstrap}")).StatusCode);
        var prometheus = await CreateKeyAsync(operatorClient, "prometheus", "metrics");
        using var scraper = Client(ports[0], prometheus.Secret);
        Assert.Equal(HttpStatusCode.OK, (await scraper.GetAsync("/metrics")).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await operatorClient.PostAsync("/v1/admin/backups", null)).StatusCode);

        var after = await ReadinessAsync(operatorClient);
        output.WriteLine($"readiness {before.Score} -> {after.Score}; still failing: {string.Join("; ", after.Failed)}");
        Assert.True(after.Score >= 95, $"score {after.Score}; failing: {string.Join("; ", after.Failed)}");
        // The command line reads the database, where the scrape is recorded within 30 seconds.
        await Wait.UntilAsync(async () =>
        {
            await Task.Delay(TimeSpan.FromSeconds(1)); // once a second: the key's rate limit counts these requests too
            return JsonDocument.Parse(await operatorClient.GetStringAsync("/v1/admin/keys")).RootElement.GetProperty("data").EnumerateArray()
                .Any(k => k.GetProperty("id").GetString() == prometheus.Id && k.GetProperty("lastUsedAt").ValueKind == JsonValueKind.String);
        }, TimeSpan.FromSeconds(60),
            because: "the metrics key's use is written to the database");
        var doctor = await RunAsync(["doctor", "--strict", "95"], environment);
        Assert.True(doctor.ExitCode == 0, doctor.Output);
        Assert.Matches(@"Score: (9[5-9]|100)/100", doctor.Output);
    }

    sealed record Readiness(int Score, List<string> Failed);

    static async Task<Readiness> ReadinessAsync(HttpClient client)
    {
        var report = JsonDocument.Parse(await client.GetStringAsync("/v1/admin/readiness")).RootElement;
        return new Readiness(report.GetProperty("score").GetInt32(), report.GetProperty("checks").EnumerateArray()
            .Where(c => !c.GetProperty("passed").GetBoolean()).Select(c => $"{c.GetProperty("id").GetString()}: {c.GetProperty("found").GetString()}").ToList());
    }

    static async Task<(string Id, string Secret)> CreateKeyAsync(HttpClient client, string name, string scope)
    {
        var response = await client.PostAsync("/v1/admin/keys", Json(new { name, scopes = new[] { scope } }));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var created = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        return (created.GetProperty("key").GetProperty("id").GetString()!, created.GetProperty("secret").GetString()!);
    }

    [Fact]
    public async Task The_kubernetes_manifests_run_the_migration_job_then_pods_pass_their_probes_and_the_backup_cronjob_backs_up()
    {
        var folder = Path.Combine(PublishedBuild.Repository, "deploy", "kubernetes");
        var resources = Yaml.Documents(Path.Combine(folder, "kustomization.yaml")).Single() is var kustomization
            ? Yaml.List(Yaml.At(kustomization, "resources")).Cast<string>().SelectMany(f => Yaml.Documents(Path.Combine(folder, f))).ToList()
            : [];
        object Kind(string kind, string? name = null) => resources.Single(r => Yaml.At(r, "kind") as string == kind && (name is null || Yaml.At(r, "metadata", "name") as string == name));
        var configMap = Kind("ConfigMap");
        var secret = Kind("Secret");
        var deployment = Kind("Deployment");
        var pod = Yaml.At(deployment, "spec", "template")!;
        var container = Yaml.List(Yaml.At(pod, "spec", "containers")).Single()!;
        var job = Yaml.List(Yaml.At(Kind("Job"), "spec", "template", "spec", "containers")).Single()!;
        var backup = Yaml.List(Yaml.At(Kind("CronJob"), "spec", "jobTemplate", "spec", "template", "spec", "containers")).Single()!;

        // What a cluster would reject or get wrong, checked without one: references, selectors, ports, probes, limits.
        var environment = Yaml.Map(Yaml.At(configMap, "data")).ToDictionary(e => e.Key, e => (string)e.Value!);
        foreach (var (key, value) in Yaml.Map(Yaml.At(secret, "stringData"))) environment[key] = (string)value!;
        foreach (var c in new[] { container, job, backup })
        {
            Assert.Equal(new[] { Yaml.At(configMap, "metadata", "name"), Yaml.At(secret, "metadata", "name") },
                Yaml.List(Yaml.At(c, "envFrom")).Select(e => Yaml.At(e, "configMapRef", "name") ?? Yaml.At(e, "secretRef", "name")));
            Assert.Equal(Yaml.At(container, "image"), Yaml.At(c, "image"));
            Assert.Equal("true", Yaml.At(c, "securityContext", "readOnlyRootFilesystem"));
            Assert.Contains(Yaml.List(Yaml.At(c, "volumeMounts")), m => Yaml.At(m, "mountPath") as string == "/tmp");
        }
        var podLabels = Yaml.Map(Yaml.At(pod, "metadata", "labels"));
        foreach (var selector in new[] { Yaml.At(deployment, "spec", "selector", "matchLabels"), Yaml.At(Kind("PodDisruptionBudget"), "spec", "selector", "matchLabels"), Yaml.At(Kind("Service"), "spec", "selector") })
            Assert.All(Yaml.Map(selector), label => Assert.Equal(label.Value, podLabels[label.Key]));
        var containerPort = Yaml.List(Yaml.At(container, "ports")).Single(p => Yaml.At(p, "name") as string == "http");
        Assert.Equal(environment["ASPNETCORE_HTTP_PORTS"], Yaml.At(containerPort, "containerPort"));
        Assert.NotNull(Yaml.At(container, "resources", "limits", "memory"));
        var grace = int.Parse((string)Yaml.At(pod, "spec", "terminationGracePeriodSeconds")!, System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(grace > TimeSpan.Parse(environment["Shutdown__DrainDelay"], System.Globalization.CultureInfo.InvariantCulture).TotalSeconds + 10,
            "the pod's grace period leaves running turns time after the drain delay");
        var probes = new[] { "startupProbe", "livenessProbe", "readinessProbe" }.Select(p => Yaml.At(container, p, "httpGet")!).ToList();
        Assert.All(probes, p => Assert.Equal("http", Yaml.At(p, "port")));

        await using var redis = await RedisServer.StartAsync();
        environment["DATABASE_URL"] = DatabaseUrl();
        environment["REDIS_URL"] = $"redis://127.0.0.1:{redis.Port}";
        environment["AGENTRY_ADMIN_KEY"] = TestAdminKey;
        Assert.StartsWith("change-me", environment["AGENTRY_SECRETS_KEY"]); // pods have a data folder each: they are given one secrets key
        environment["AGENTRY_SECRETS_KEY"] = AgentryApp.SecretsKey;
        Replace(environment, "AGENTRY_DATA_DIR", Folder("pod-data"));
        var port = Replace(environment, "ASPNETCORE_HTTP_PORTS", FreePort());

        // The Job first, as the upgrade runbook says (a pod in Production refuses a schema that is behind).
        var migrated = await RunAsync(Args(job), environment);
        Assert.True(migrated.ExitCode == 0, migrated.Output);

        var app = Start(Args(container), environment);
        foreach (var probe in probes) await app.UntilHealthyAsync(port, (string)Yaml.At(probe, "path")!);

        var backupVolume = new Dictionary<string, string>(environment) { ["AGENTRY_DATA_DIR"] = Folder("backup-volume") };
        var backedUp = await RunAsync(Args(backup), backupVolume);
        Assert.True(backedUp.ExitCode == 0, backedUp.Output);
        Assert.Matches("verified: Restored copy matches the manifest", backedUp.Output);

        // The restore runbook: pods scaled to zero, the one-off Job on the backups' claim, pods back.
        var restoreJob = Yaml.Documents(Path.Combine(folder, "restore-job.yaml")).Single();
        var restorer = Yaml.List(Yaml.At(restoreJob, "spec", "template", "spec", "containers")).Single()!;
        Assert.Equal(Yaml.At(backup, "volumeMounts"), Yaml.At(restorer, "volumeMounts"));
        Assert.Equal("agentry-backups", Yaml.At(Yaml.List(Yaml.At(restoreJob, "spec", "template", "spec", "volumes"))[0], "persistentVolumeClaim", "claimName"));
        var backupId = Regex.Match(backedUp.Output, @"backup-\d{8}T\d{9}Z").Value;
        await app.DisposeAsync();
        var restored = await RunAsync(Args(restorer).Select(a => a == "BACKUP_ID" ? backupId : a).ToArray(), backupVolume);
        Assert.True(restored.ExitCode == 0, restored.Output);
        Assert.Contains($"Restored {backupId}", restored.Output);
        var again = Start(Args(container), environment);
        await again.UntilHealthyAsync(port, "/health/ready");
    }

    [Fact]
    public async Task The_systemd_unit_and_its_environment_file_start_the_service_and_the_example_admin_key_is_refused()
    {
        var folder = Path.Combine(PublishedBuild.Repository, "deploy", "systemd");
        var unit = await File.ReadAllLinesAsync(Path.Combine(folder, "agentry.service"));
        string Directive(string name) => unit.Single(l => l.StartsWith(name + "=", StringComparison.Ordinal))[(name.Length + 1)..];
        var execStart = Directive("ExecStart").Split(' ');
        Assert.Equal(["/usr/bin/dotnet", "/opt/agentry/agentry.dll"], execStart[..2]);
        Assert.Equal("/opt/agentry", Directive("WorkingDirectory"));
        Assert.Equal("/etc/agentry/agentry.env", Directive("EnvironmentFile"));
        var environment = EnvFile.Read(Path.Combine(folder, "agentry.env"));
        Assert.True(int.Parse(Directive("TimeoutStopSec"), System.Globalization.CultureInfo.InvariantCulture) >
            TimeSpan.Parse(environment["Shutdown__DrainDelay"], System.Globalization.CultureInfo.InvariantCulture).TotalSeconds + 10);
        Assert.Equal("/var/lib/" + Directive("StateDirectory"), environment["AGENTRY_DATA_DIR"]);

        Replace(environment, "AGENTRY_DATA_DIR", Folder("state"));
        var url = environment["ASPNETCORE_URLS"];
        var port = FreePort();
        environment["ASPNETCORE_URLS"] = url.Replace(":8080", ":" + port, StringComparison.Ordinal);
        Assert.NotEqual(url, environment["ASPNETCORE_URLS"]);

        // Copied unchanged, the example does not go live with a key everyone can read in this repository.
        var refused = await RunAsync(execStart[2..], environment);
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("is still the placeholder", refused.Output);

        environment["AGENTRY_ADMIN_KEY"] = TestAdminKey;
        var app = Start(execStart[2..], environment);
        await app.UntilHealthyAsync(port, "/health/ready");
        Assert.Equal(HttpStatusCode.OK, await PublishedProcess.StatusAsync(port, "/health", TestAdminKey));
    }

    static string[] Command(object? service) => Yaml.List(Yaml.At(service, "command")).Cast<string>().DefaultIfEmpty("serve").ToArray();
    static string[] Args(object? container) => Yaml.List(Yaml.At(container, "args")).Cast<string>().ToArray();

    string Folder(string name) => Directory.CreateDirectory(Path.Combine(_work, name)).FullName;

    static string FreePort() => Agentry.Processes.ChildProcess.FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture);

    static string Replace(Dictionary<string, string> environment, string name, string value)
    {
        Assert.True(environment.ContainsKey(name), $"the deployment sets {name}");
        environment[name] = value;
        return value;
    }

    static string DatabaseUrl()
    {
        var database = new NpgsqlConnectionStringBuilder(PostgresServer.Shared.CreateEmptyDatabase());
        return $"postgres://{database.Username}@{database.Host}:{database.Port}/{database.Database}";
    }

    static HttpClient Client(string port, string key = TestAdminKey) => new()
    {
        BaseAddress = new Uri($"http://127.0.0.1:{port}"),
        DefaultRequestHeaders = { Authorization = new("Bearer", key) },
        Timeout = TimeSpan.FromSeconds(120),
    };

    static StringContent Json(object body) => new(JsonSerializer.Serialize(body), System.Text.Encoding.UTF8, "application/json");

    PublishedProcess Start(string[] args, Dictionary<string, string> environment)
    {
        var process = new PublishedProcess(build.Folder, args, environment, output);
        _processes.Add(process);
        return process;
    }

    async Task<(int ExitCode, string Output)> RunAsync(string[] args, Dictionary<string, string> environment)
    {
        await using var process = new PublishedProcess(build.Folder, args, environment, output);
        return (await process.ExitAsync(TimeSpan.FromSeconds(120)), process.Output);
    }

    public void Dispose()
    {
        foreach (var process in _processes)
        {
            try { process.DisposeAsync().AsTask().GetAwaiter().GetResult(); }
            catch (InvalidOperationException) { } // never started: nothing to stop, and the others must still be stopped
        }
        try { Directory.Delete(_work, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}

/// <summary><c>dotnet publish</c> of the service into a folder of its own, once for the test class, as the Dockerfile does.</summary>
public sealed class PublishedBuild : IDisposable
{
    public static string Repository { get; } = FindRepository();

    public string Folder { get; } = Directory.CreateTempSubdirectory("agentry-published-").FullName;

    public PublishedBuild()
    {
        var project = Path.Combine(Repository, "src", "Agentry", "Agentry.csproj");
        // The suite's build already compiled Release; publishing lays it out as a deployment does, without compiling again.
        var start = new ProcessStartInfo("dotnet", ["publish", project, "-c", "Release", "--no-build", "-o", Folder, "-nologo", "-v:q", "-p:UseAppHost=false"])
        { RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(start)!;
        var text = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEnd();
        if (!process.WaitForExit(TimeSpan.FromMinutes(5)) || process.ExitCode != 0)
            throw new InvalidOperationException($"dotnet publish failed: {text.Result}{errors}");
        if (!File.Exists(Path.Combine(Folder, "agentry.dll"))) throw new InvalidOperationException("dotnet publish wrote no agentry.dll");
    }

    static string FindRepository()
    {
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
            if (File.Exists(Path.Combine(folder.FullName, "Agentry.slnx"))) return folder.FullName;
        throw new InvalidOperationException("The repository root (Agentry.slnx) is not above the test folder.");
    }

    public void Dispose()
    {
        try { Directory.Delete(Folder, recursive: true); } catch (IOException) { }
    }
}

/// <summary>The published app started from its own folder with only the given variables (plus PATH and HOME, which any runtime has).</summary>
public sealed class PublishedProcess : IAsyncDisposable
{
    readonly Agentry.Processes.ChildProcess _process;

    public PublishedProcess(string folder, string[] args, Dictionary<string, string> environment, ITestOutputHelper output)
    {
        output.WriteLine($"$ dotnet agentry.dll {string.Join(' ', args)}   ({string.Join(' ', environment.Keys.Order(StringComparer.Ordinal))})");
        _process = Agentry.Processes.ChildProcess.Start("dotnet", [Path.Combine(folder, "agentry.dll"), .. args], environment, folder, cleanEnvironment: true);
    }

    public string Output => _process.Output;

    public async Task<int> ExitAsync(TimeSpan timeout) =>
        await _process.WaitForExitAsync(timeout) ?? throw new TimeoutException($"The service did not exit within {timeout.TotalSeconds} s:\n{Output}");

    public static async Task<HttpStatusCode> StatusAsync(string port, string path, string? key = null)
    {
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        using var request = new HttpRequestMessage(HttpMethod.Get, $"http://127.0.0.1:{port}{path}");
        if (key is not null) request.Headers.Authorization = new("Bearer", key);
        return (await client.SendAsync(request)).StatusCode;
    }

    /// <summary>Polls the probe as an orchestrator does until it answers 200; fails with the output if the process exits first.</summary>
    public async Task UntilHealthyAsync(string port, string path)
    {
        if (await _process.UntilAnswersAsync($"http://127.0.0.1:{port}{path}", status => status == HttpStatusCode.OK, TimeSpan.FromSeconds(90))) return;
        Assert.Fail(_process.HasExited ? $"The service exited with {_process.ExitCode} before {path} passed:\n{Output}" : $"{path} did not pass within 90 s:\n{Output}");
    }

    public ValueTask DisposeAsync() => _process.DisposeAsync();
}

/// <summary>Reads the final stage of a Dockerfile: ENV, WORKDIR, USER, EXPOSE, HEALTHCHECK and ENTRYPOINT + CMD.</summary>
public sealed record Dockerfile(Dictionary<string, string> Environment, string WorkingDirectory, string User, string Exposed, string HealthCheckPort,
    string HealthCheckPath, string[] Command)
{
    public static Dockerfile Read(string path)
    {
        // Join continuation lines, drop comments, keep the instructions after the last FROM.
        var instructions = Regex.Replace(File.ReadAllText(path), @"\\\r?\n\s*", " ").Split('\n')
            .Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#')).ToList();
        var stage = instructions.Skip(instructions.FindLastIndex(l => l.StartsWith("FROM ", StringComparison.Ordinal))).ToList();
        string? Last(string instruction) => stage.LastOrDefault(l => l.StartsWith(instruction + " ", StringComparison.Ordinal))?[(instruction.Length + 1)..].Trim();

        var environment = new Dictionary<string, string>();
        foreach (var env in stage.Where(l => l.StartsWith("ENV ", StringComparison.Ordinal)))
            foreach (Match pair in Regex.Matches(env[4..], @"(\w+)=(\S+)")) environment[pair.Groups[1].Value] = pair.Groups[2].Value;
        var health = Regex.Match(Last("HEALTHCHECK") ?? "", @"http://localhost:(\d+)(/\S*)");
        string[] entrypoint = JsonSerializer.Deserialize<string[]>(Last("ENTRYPOINT") ?? "[]")!;
        string[] command = JsonSerializer.Deserialize<string[]>(Last("CMD") ?? "[]")!;
        var user = Last("USER") ?? "root";
        return new Dockerfile(environment, Last("WORKDIR") ?? "/", user, Last("EXPOSE") ?? "", health.Groups[1].Value, health.Groups[2].Value,
            [.. entrypoint, .. command]);
    }
}

/// <summary>Reads NAME=value lines as compose's env_file and systemd's EnvironmentFile do (comments and blank lines skipped).</summary>
public static class EnvFile
{
    public static Dictionary<string, string> Read(string path) => File.ReadAllLines(path)
        .Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#'))
        .Select(l => l.Split('=', 2)).ToDictionary(p => p[0], p => p[1]);
}

/// <summary>Just enough YAML navigation for deployment files: every scalar is read as a string.</summary>
public static class Yaml
{
    static readonly IDeserializer Reader = new DeserializerBuilder().Build();

    public static List<object> Documents(string path)
    {
        var parser = new Parser(new StringReader(File.ReadAllText(path)));
        parser.Consume<StreamStart>();
        var documents = new List<object>();
        while (parser.Accept<DocumentStart>(out _))
            if (Reader.Deserialize<object>(parser) is { } document) documents.Add(document);
        return documents;
    }

    public static object? At(object? node, params string[] path)
    {
        foreach (var key in path)
            node = node is Dictionary<object, object> map && map.TryGetValue(key, out var value) ? value : null;
        return node;
    }

    public static Dictionary<string, object?> Map(object? node) =>
        node is Dictionary<object, object> map ? map.ToDictionary(e => (string)e.Key, e => (object?)e.Value) : [];

    public static List<object?> List(object? node) => node is List<object> list ? [.. list] : [];
}
