using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Agentry.Processes;

/// <summary>
/// A program the tests or the benchmark start (the service, its published build, PostgreSQL's tools, Portkey): its output
/// captured line by line, signalled as an orchestrator would (SIGTERM, SIGKILL), its memory read from /proc, and killed
/// with its children when disposed, so no run leaves a process behind. The one process helper of tests/ and bench/.
/// </summary>
public sealed partial class ChildProcess : IAsyncDisposable
{
    readonly Process _process;
    readonly List<string> _lines = [];
    readonly StreamWriter? _log;

    ChildProcess(Process process, StreamWriter? log, Action<string>? onLine)
    {
        _process = process;
        _log = log;
        void Capture(string? line)
        {
            if (line is null) return;
            lock (_lines)
            {
                _lines.Add(line);
                _log?.WriteLine(line);
            }
            onLine?.Invoke(line);
        }
        _process.OutputDataReceived += (_, e) => Capture(e.Data);
        _process.ErrorDataReceived += (_, e) => Capture(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    /// <summary>A loopback port nothing listens on right now.</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>
    /// Starts <paramref name="program"/>. With <paramref name="cleanEnvironment"/> it gets only the given variables (and
    /// PATH, HOME, DOTNET_ROOT, TMPDIR, which any runtime has), as a container or a unit file would give it.
    /// </summary>
    public static ChildProcess Start(string program, IEnumerable<string> arguments, IReadOnlyDictionary<string, string>? environment = null,
        string? workingDirectory = null, bool cleanEnvironment = false, string? logFile = null, Action<string>? onLine = null)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        if (workingDirectory is not null) start.WorkingDirectory = workingDirectory;
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        if (cleanEnvironment)
        {
            start.Environment.Clear();
            foreach (var inherited in new[] { "PATH", "HOME", "DOTNET_ROOT", "TMPDIR" })
                if (Environment.GetEnvironmentVariable(inherited) is { } value) start.Environment[inherited] = value;
        }
        foreach (var (key, value) in environment ?? new Dictionary<string, string>()) start.Environment[key] = value;
        var process = Process.Start(start) ?? throw new InvalidOperationException($"{program} did not start");
        return new ChildProcess(process, logFile is null ? null : new StreamWriter(logFile) { AutoFlush = true }, onLine);
    }

    /// <summary>Runs a program to its end and returns its exit code and everything it wrote; killed if it runs past <paramref name="timeout"/>.</summary>
    public static async Task<(int ExitCode, string Output)> RunAsync(string program, IEnumerable<string> arguments, TimeSpan timeout,
        IReadOnlyDictionary<string, string>? environment = null, string? workingDirectory = null)
    {
        await using var process = Start(program, arguments, environment, workingDirectory);
        if (await process.WaitForExitAsync(timeout) is not { } exitCode)
            throw new TimeoutException($"{program} did not finish within {timeout.TotalSeconds} s:\n{process.Output}");
        return (exitCode, process.Output);
    }

    public int Id => _process.Id;
    public bool HasExited => _process.HasExited;
    public int ExitCode => _process.ExitCode;

    public IReadOnlyList<string> Lines { get { lock (_lines) return _lines.ToArray(); } }
    public string Output => string.Join('\n', Lines);

    /// <summary>The exit code, or null when it is still running after <paramref name="timeout"/>.</summary>
    public async Task<int?> WaitForExitAsync(TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cancel.Token);
        }
        catch (OperationCanceledException)
        {
            return null;
        }
        _process.WaitForExit(); // drains the output readers
        return _process.ExitCode;
    }

    /// <summary>SIGTERM, as a container runtime or systemd sends on stop.</summary>
    public void Terminate()
    {
        if (kill(_process.Id, 15) != 0) throw new InvalidOperationException($"kill -TERM failed: errno {Marshal.GetLastPInvokeError()}");
    }

    /// <summary>SIGKILL, with its children: no chance to flush anything.</summary>
    public void KillHard() => _process.Kill(entireProcessTree: true);

    /// <summary>Polls <paramref name="url"/> until <paramref name="ready"/> says yes of the status; false when the process exits first or time runs out.</summary>
    public Task<bool> UntilAnswersAsync(string url, Func<HttpStatusCode, bool> ready, TimeSpan timeout) =>
        UntilAnswersAsync(url, response => Task.FromResult(ready(response.StatusCode)), timeout);

    /// <summary>Polls <paramref name="url"/> until <paramref name="ready"/> says yes of the response; false when the process exits first or time runs out.</summary>
    public async Task<bool> UntilAnswersAsync(string url, Func<HttpResponseMessage, Task<bool>> ready, TimeSpan timeout)
    {
        using var probe = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var deadline = DateTime.UtcNow + timeout;
        while (!_process.HasExited && DateTime.UtcNow < deadline)
        {
            try
            {
                using var response = await probe.GetAsync(url);
                if (await ready(response)) return true;
            }
            catch (HttpRequestException) { }
            catch (TaskCanceledException) { }
            await Task.Delay(200);
        }
        return false;
    }

    /// <summary>Resident and peak resident memory in MB (VmRSS, VmHWM), or zeros where /proc is not there.</summary>
    public (double Rss, double PeakRss) Memory() => MemoryOf(_process.Id);

    /// <summary>The same for any process: this one, with <see cref="Environment.ProcessId"/>.</summary>
    public static (double Rss, double PeakRss) MemoryOf(int processId)
    {
        var status = $"/proc/{processId}/status";
        if (!File.Exists(status)) return (0, 0);
        double Read(string field) => File.ReadLines(status).Where(l => l.StartsWith(field, StringComparison.Ordinal))
            .Select(l => double.Parse(l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) / 1024).FirstOrDefault();
        return (Math.Round(Read("VmRSS:"), 1), Math.Round(Read("VmHWM:"), 1));
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
        if (_log is not null) await _log.DisposeAsync();
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int kill(int pid, int signal);
}
