using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Agentry.Bench;

/// <summary>A server process the harness started, with its memory read from /proc.</summary>
public sealed class ServerProcess(string name, Process process, string baseUrl, string output) : IAsyncDisposable
{
    public string Name { get; } = name;
    public string BaseUrl { get; } = baseUrl;
    public string OutputFile { get; } = output;

    /// <summary>Resident and peak resident memory in MB (VmRSS, VmHWM), or zeros where /proc is not there.</summary>
    public (double Rss, double PeakRss) Memory()
    {
        var status = $"/proc/{process.Id}/status";
        if (!File.Exists(status)) return (0, 0);
        double Read(string field) => File.ReadLines(status).Where(l => l.StartsWith(field, StringComparison.Ordinal))
            .Select(l => double.Parse(l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) / 1024).FirstOrDefault();
        return (Math.Round(Read("VmRSS:"), 1), Math.Round(Read("VmHWM:"), 1));
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public static async Task<ServerProcess> StartAsync(string name, string fileName, IEnumerable<string> arguments, string workingDirectory,
        IDictionary<string, string> environment, string baseUrl, string probePath)
    {
        var output = Path.Combine(Path.GetTempPath(), $"agentry-bench-{name}-{Environment.ProcessId}.log");
        var start = new ProcessStartInfo(fileName) { WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        foreach (var (key, value) in environment) start.Environment[key] = value;
        var process = Process.Start(start) ?? throw new InvalidOperationException($"{fileName} did not start");
        var log = new StreamWriter(output) { AutoFlush = true };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.WriteLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (log) log.WriteLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        using var probe = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var deadline = DateTime.UtcNow.AddSeconds(90);
        while (true)
        {
            if (process.HasExited) throw new InvalidOperationException($"{name} exited with {process.ExitCode}; see {output}");
            try
            {
                var response = await probe.GetAsync(baseUrl + probePath);
                if ((int)response.StatusCode < 500) break;
            }
            catch (HttpRequestException) { }
            catch (TaskCanceledException) { }
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"{name} did not answer {probePath} within 90 s; see {output}");
            await Task.Delay(200);
        }
        return new ServerProcess(name, process, baseUrl, output);
    }

    public async ValueTask DisposeAsync()
    {
        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }
        process.Dispose();
    }
}
