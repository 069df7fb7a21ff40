using Agentry.Processes;

namespace Agentry.Bench;

/// <summary>A server the harness started (Agentry, Portkey), with its memory read from /proc; its output goes to a log file.</summary>
public sealed class ServerProcess(string name, ChildProcess process, string baseUrl, string output) : IAsyncDisposable
{
    public string Name { get; } = name;
    public string BaseUrl { get; } = baseUrl;
    public string OutputFile { get; } = output;

    /// <summary>Resident and peak resident memory in MB (VmRSS, VmHWM), or zeros where /proc is not there.</summary>
    public (double Rss, double PeakRss) Memory() => process.Memory();

    public static int FreePort() => ChildProcess.FreePort();

    public static async Task<ServerProcess> StartAsync(string name, string fileName, IEnumerable<string> arguments, string workingDirectory,
        IDictionary<string, string> environment, string baseUrl, string probePath)
    {
        var output = Path.Combine(Path.GetTempPath(), $"agentry-bench-{name}-{Environment.ProcessId}.log");
        var process = ChildProcess.Start(fileName, arguments, environment.AsReadOnly(), workingDirectory, logFile: output);
        if (!await process.UntilAnswersAsync(baseUrl + probePath, status => (int)status < 500, TimeSpan.FromSeconds(90)))
        {
            var problem = process.HasExited ? $"{name} exited with {process.ExitCode}; see {output}" : $"{name} did not answer {probePath} within 90 s; see {output}";
            await process.DisposeAsync();
            throw new InvalidOperationException(problem);
        }
        return new ServerProcess(name, process, baseUrl, output);
    }

    public ValueTask DisposeAsync() => process.DisposeAsync();
}
