using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Http.Headers;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;

namespace Agentry.Tests;

/// <summary>
/// The built service as a real child process (<c>dotnet agentry.dll</c> from the test output folder), listening on a
/// free loopback port, with its JSON log lines captured: for what only a real process shows (signals, exit codes, logs).
/// Killed on dispose if it is still running.
/// </summary>
public sealed partial class AgentryProcess : IAsyncDisposable
{
    readonly Process _process;
    readonly ConcurrentQueue<string> _lines = new();
    readonly TaskCompletionSource<string> _address = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public AgentryProcess(string dataDirectory, Dictionary<string, string>? settings = null, string? adminKey = AgentryApp.AdminKey)
    {
        DataDirectory = dataDirectory;
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, WorkingDirectory = AppContext.BaseDirectory,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "agentry.dll"));
        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        start.Environment["ASPNETCORE_URLS"] = "http://127.0.0.1:0";
        start.Environment["AGENTRY_DATA_DIR"] = dataDirectory;
        start.Environment["Shutdown__DrainDelay"] = "00:00:00"; // tests of the drain pause set their own
        start.Environment["Backup__Scheduled"] = "false";
        if (adminKey is not null) start.Environment["AGENTRY_ADMIN_KEY"] = adminKey;
        start.Environment["AGENTRY_SECRETS_KEY"] = AgentryApp.SecretsKey; // shared by every instance of a test, as a deployment shares it
        foreach (var (key, value) in TestDatabase.SettingsFor(dataDirectory)) start.Environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;
        foreach (var (key, value) in settings ?? []) start.Environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;
        _process = new Process { StartInfo = start };
        _process.OutputDataReceived += (_, e) => Capture(e.Data);
        _process.ErrorDataReceived += (_, e) => Capture(e.Data);
        _process.Start();
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public string DataDirectory { get; }
    public int Id => _process.Id;
    public bool HasExited => _process.HasExited;
    public int ExitCode => _process.ExitCode;

    /// <summary>Every line the process wrote so far (JSON log lines, and anything printed).</summary>
    public IReadOnlyList<string> Lines => _lines.ToArray();
    public string Output => string.Join('\n', _lines);

    void Capture(string? line)
    {
        if (line is null) return;
        _lines.Enqueue(line);
        if (ListeningPattern().Match(line) is { Success: true } match) _address.TrySetResult(match.Groups[1].Value);
    }

    /// <summary>Waits until the service listens, and returns a client for it with the admin key.</summary>
    public async Task<HttpClient> StartedAsync(string? apiKey = AgentryApp.AdminKey)
    {
        var ready = await Task.WhenAny(_address.Task, _process.WaitForExitAsync(), Task.Delay(TimeSpan.FromSeconds(60)));
        if (ready != _address.Task) Assert.Fail($"The service did not start:\n{Output}");
        var client = new HttpClient { BaseAddress = new Uri(_address.Task.Result), Timeout = TimeSpan.FromSeconds(60) };
        if (apiKey is not null) client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        client.DefaultRequestHeaders.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        return client;
    }

    /// <summary>Runs a command-line verb (<c>keys create</c>, <c>audit verify</c>…) against a data folder and returns its exit code and output.</summary>
    public static Task<(int ExitCode, string Output)> RunCommandAsync(string dataDirectory, params string[] args) =>
        RunCommandAsync(dataDirectory, new Dictionary<string, string>(), args);

    /// <summary>Runs the executable with settings as environment variables (as an operator sets them) until it exits.</summary>
    public static async Task<(int ExitCode, string Output)> RunCommandAsync(string dataDirectory, Dictionary<string, string> settings, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = AppContext.BaseDirectory };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "agentry.dll"));
        foreach (var arg in args) start.ArgumentList.Add(arg);
        if (!settings.ContainsKey("Data:Directory"))
        {
            start.ArgumentList.Add("--Data:Directory");
            start.ArgumentList.Add(dataDirectory);
        }
        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Testing";
        foreach (var (key, value) in TestDatabase.SettingsFor(settings.GetValueOrDefault("Data:Directory") ?? dataDirectory))
            start.Environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;
        foreach (var (key, value) in settings) start.Environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await output + await error);
    }

    /// <summary>SIGTERM, as a container runtime or systemd sends on stop.</summary>
    public void Terminate()
    {
        if (kill(_process.Id, 15) != 0) Assert.Fail($"kill -TERM failed: errno {Marshal.GetLastPInvokeError()}");
    }

    /// <summary>SIGKILL: no chance to flush anything.</summary>
    public void KillHard() => _process.Kill(entireProcessTree: true);

    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"The process did not exit within {timeout.TotalSeconds} s:\n{Output}");
        }
        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int kill(int pid, int signal);

    [GeneratedRegex(@"listening on (http://127\.0\.0\.1:\d+)")]
    private static partial Regex ListeningPattern();
}
