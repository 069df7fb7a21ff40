using System.Net.Http.Headers;
using System.Text.RegularExpressions;
using Agentry.Processes;

namespace Agentry.Tests;

/// <summary>
/// The built service as a real child process (<c>dotnet agentry.dll</c> from the test output folder), listening on a
/// free loopback port, with its JSON log lines captured: for what only a real process shows (signals, exit codes, logs).
/// Killed on dispose if it is still running.
/// </summary>
public sealed partial class AgentryProcess : IAsyncDisposable
{
    readonly ChildProcess _process;
    readonly TaskCompletionSource<string> _address = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public AgentryProcess(string dataDirectory, Dictionary<string, string>? settings = null, string? adminKey = AgentryApp.AdminKey)
    {
        DataDirectory = dataDirectory;
        var environment = new Dictionary<string, string>
        {
            ["ASPNETCORE_ENVIRONMENT"] = "Production",
            ["ASPNETCORE_URLS"] = "http://127.0.0.1:0",
            ["AGENTRY_DATA_DIR"] = dataDirectory,
            ["Shutdown__DrainDelay"] = "00:00:00", // tests of the drain pause set their own
            ["Backup__Scheduled"] = "false",
            ["AGENTRY_SECRETS_KEY"] = AgentryApp.SecretsKey, // shared by every instance of a test, as a deployment shares it
        };
        if (adminKey is not null) environment["AGENTRY_ADMIN_KEY"] = adminKey;
        foreach (var (key, value) in TestDatabase.SettingsFor(dataDirectory).Concat(settings ?? [])) environment[Variable(key)] = value;
        _process = ChildProcess.Start("dotnet", [Path.Combine(AppContext.BaseDirectory, "agentry.dll")], environment, AppContext.BaseDirectory, onLine: line =>
        {
            if (ListeningPattern().Match(line) is { Success: true } match) _address.TrySetResult(match.Groups[1].Value);
        });
    }

    public string DataDirectory { get; }
    public int Id => _process.Id;
    public bool HasExited => _process.HasExited;
    public int ExitCode => _process.ExitCode;

    /// <summary>Every line the process wrote so far (JSON log lines, and anything printed).</summary>
    public IReadOnlyList<string> Lines => _process.Lines;
    public string Output => _process.Output;

    /// <summary>
    /// Waits until the service listens and has warmed up (its readiness check <c>warm-up</c> passes, as a load balancer
    /// waits for before sending traffic; the other checks are the tests' to examine), and returns a client for it with
    /// the admin key.
    /// </summary>
    public async Task<HttpClient> StartedAsync(string? apiKey = AgentryApp.AdminKey)
    {
        var ready = await Task.WhenAny(_address.Task, _process.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        if (ready != _address.Task) Assert.Fail($"The service did not start:\n{Output}");
        var warm = await _process.UntilAnswersAsync($"{_address.Task.Result}/health/ready", async response =>
            System.Text.Json.Nodes.JsonNode.Parse(await response.Content.ReadAsStringAsync())?["checks"]?.AsArray()
                .Any(c => (string?)c!["name"] == "warm-up" && (string?)c["status"] == "Healthy") == true, TimeSpan.FromSeconds(90));
        if (!warm) Assert.Fail(_process.HasExited ? $"The service exited with {_process.ExitCode} while warming up:\n{Output}" : $"The service did not warm up within 90 s:\n{Output}");
        var client = new HttpClient { BaseAddress = new Uri(_address.Task.Result), Timeout = TimeSpan.FromSeconds(60) };
        if (apiKey is not null) client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        client.DefaultRequestHeaders.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        return client;
    }

    /// <summary>Runs a command-line verb (<c>keys create</c>, <c>audit verify</c>…) against a data folder and returns its exit code and output.</summary>
    public static Task<(int ExitCode, string Output)> RunCommandAsync(string dataDirectory, params string[] args) =>
        RunCommandAsync(dataDirectory, new Dictionary<string, string>(), args);

    /// <summary>Runs the executable with settings as environment variables (as an operator sets them) until it exits.</summary>
    public static Task<(int ExitCode, string Output)> RunCommandAsync(string dataDirectory, Dictionary<string, string> settings, params string[] args)
    {
        List<string> arguments = [Path.Combine(AppContext.BaseDirectory, "agentry.dll"), .. args];
        if (!settings.ContainsKey("Data:Directory")) arguments.AddRange(["--Data:Directory", dataDirectory]);
        var environment = new Dictionary<string, string> { ["ASPNETCORE_ENVIRONMENT"] = "Testing" };
        foreach (var (key, value) in TestDatabase.SettingsFor(settings.GetValueOrDefault("Data:Directory") ?? dataDirectory).Concat(settings))
            environment[Variable(key)] = value;
        return ChildProcess.RunAsync("dotnet", arguments, TimeSpan.FromSeconds(60), environment, AppContext.BaseDirectory);
    }

    /// <summary>SIGTERM, as a container runtime or systemd sends on stop.</summary>
    public void Terminate() => _process.Terminate();

    /// <summary>SIGKILL: no chance to flush anything.</summary>
    public void KillHard() => _process.KillHard();

    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        if (await _process.WaitForExitAsync(timeout) is { } exitCode) return exitCode;
        Assert.Fail($"The process did not exit within {timeout.TotalSeconds} s:\n{Output}");
        return -1;
    }

    public ValueTask DisposeAsync() => _process.DisposeAsync();

    /// <summary>A setting as an environment variable: Section:Key is Section__Key.</summary>
    static string Variable(string setting) => setting.Replace(":", "__", StringComparison.Ordinal);

    [GeneratedRegex(@"listening on (http://127\.0\.0\.1:\d+)")]
    private static partial Regex ListeningPattern();
}
