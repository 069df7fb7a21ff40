using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Npgsql;

namespace Agentry.Tests.Data;

/// <summary>
/// A throw-away PostgreSQL cluster started from the installed Debian binaries (no container): <c>initdb</c> in a temp
/// folder, <c>pg_ctl start</c> on a free loopback port, trust authentication. initdb refuses to run as root, so as root
/// the binaries run as the <c>postgres</c> user (<c>runuser</c>). One cluster serves the whole test run; each test app
/// gets a database of its own. The cluster is stopped when the test process exits.
/// </summary>
public sealed class PostgresServer
{
    static readonly Lazy<PostgresServer> SharedServer = new(() => Start());
    public static PostgresServer Shared => SharedServer.Value;

    readonly string _folder;
    readonly string _bin;
    int _databases;

    PostgresServer(string folder, string bin, int port)
    {
        _folder = folder;
        _bin = bin;
        Port = port;
        _template = new Lazy<string>(PrepareTemplate);
    }

    public int Port { get; }

    /// <summary>Connection string of the maintenance database (for creating and inspecting test databases).</summary>
    public string AdminConnectionString => ConnectionString("postgres") + ";Pooling=false";

    /// <summary>
    /// Creates a database at the current schema and returns its connection string. Each is a copy of one template a
    /// service built once per run (<c>CREATE DATABASE … TEMPLATE</c>; <see cref="TestDatabase.PrepareTemplate"/>): applying
    /// every migration again for each of the suite's hundreds of databases took most of the PostgreSQL pass's extra time,
    /// and indexing the shipped help-center again an eighth of the test process's CPU. A service started on it finds
    /// nothing pending, as one started on its own database does; what migrating a new database does is tested on an
    /// empty one (<see cref="CreateEmptyDatabase"/>, the migration and deployment tests).
    /// </summary>
    public string CreateDatabase() => CreateDatabase(_template.Value);

    /// <summary>Creates an empty database (no schema) and returns its connection string.</summary>
    public string CreateEmptyDatabase() => CreateDatabase(template: null);

    string CreateDatabase(string? template)
    {
        var name = $"agentry_test_{Environment.ProcessId}_{Interlocked.Increment(ref _databases)}";
        using var connection = new NpgsqlConnection(AdminConnectionString);
        connection.Open();
        // FILE_COPY copies the template's files (about 70 ms here); PostgreSQL 15's default, WAL_LOG, writes each of its
        // blocks to the WAL (about 95 ms). The checkpoints FILE_COPY takes cost little with fsync off.
        using var create = new NpgsqlCommand(template is null ? $"CREATE DATABASE {name}" : $"CREATE DATABASE {name} TEMPLATE {template} STRATEGY = FILE_COPY", connection);
        create.ExecuteNonQuery();
        return ConnectionString(name);
    }

    string ConnectionString(string database) => $"Host=127.0.0.1;Port={Port};Username=postgres;Database={database}";

    readonly Lazy<string> _template;

    string PrepareTemplate()
    {
        var name = $"agentry_template_{Environment.ProcessId}";
        var connectionString = CreateEmptyDatabase();
        TestDatabase.PrepareTemplate(new() { ["Data:Provider"] = "postgres", ["Data:ConnectionString"] = connectionString });
        NpgsqlConnection.ClearAllPools();
        using (var connection = new NpgsqlConnection(connectionString + ";Pooling=false"))
        {
            connection.Open();
            using var forget = new NpgsqlCommand($"TRUNCATE {string.Join(", ", TestDatabase.TemplateStartTables)} RESTART IDENTITY", connection);
            forget.ExecuteNonQuery();
        }
        // A template must have no connections while it is copied, so it gets a name nobody else connects to.
        using var admin = new NpgsqlConnection(AdminConnectionString);
        admin.Open();
        using var rename = new NpgsqlCommand($"ALTER DATABASE {new NpgsqlConnectionStringBuilder(connectionString).Database} RENAME TO {name}", admin);
        rename.ExecuteNonQuery();
        return name;
    }

    public string BinPath(string program) => Path.Combine(_bin, program);

    static PostgresServer Start()
    {
        var bin = FindBinaries();
        var asRoot = Environment.UserName == "root";
        RemoveStaleClusters();
        var folder = Directory.CreateTempSubdirectory("agentry-pg-").FullName;
        var data = Path.Combine(folder, "data");
        if (asRoot) Run("chown", ["-R", "postgres:postgres", folder]);
        RunAs(asRoot, Path.Combine(bin, "initdb"), ["-D", data, "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync"]);
        var port = FreePort();
        RunAs(asRoot, Path.Combine(bin, "pg_ctl"), ["-D", data, "-l", Path.Combine(folder, "server.log"), "-w", "-t", "60", "start",
            "-o", $"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300"]);
        var server = new PostgresServer(folder, bin, port);
        AppDomain.CurrentDomain.ProcessExit += (_, _) => server.Stop(asRoot, data);
        return server;
    }

    void Stop(bool asRoot, string data)
    {
        try { RunAs(asRoot, Path.Combine(_bin, "pg_ctl"), ["-D", data, "-m", "immediate", "-w", "stop"]); } catch (InvalidOperationException) { }
        // The server may still be closing files for a moment after pg_ctl returns: a few tries, then the next run's
        // RemoveStaleClusters takes what is left.
        for (var attempt = 0; attempt < 5 && Directory.Exists(_folder); attempt++)
        {
            try { Directory.Delete(_folder, recursive: true); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { Thread.Sleep(200); }
        }
    }

    /// <summary>
    /// Clusters of earlier runs that were not cleaned up (a test host ended before its exit handler stopped its server):
    /// each holds gigabytes of test databases, and a machine that runs the suite many times fills its disk. A folder is
    /// removed when no server runs in it any more and it is older than ten minutes (so a cluster another run is just
    /// creating is left alone).
    /// </summary>
    static void RemoveStaleClusters()
    {
        foreach (var folder in Directory.EnumerateDirectories(Path.GetTempPath(), "agentry-pg-*"))
        {
            try
            {
                if (Directory.GetLastWriteTimeUtc(folder) > DateTime.UtcNow.AddMinutes(-10)) continue;
                var pidFile = Path.Combine(folder, "data", "postmaster.pid");
                if (File.Exists(pidFile) && int.TryParse(File.ReadLines(pidFile).FirstOrDefault(), out var pid) && Directory.Exists($"/proc/{pid}")) continue;
                Directory.Delete(folder, recursive: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Someone else's, or in use: not ours to force.
            }
        }
    }

    /// <summary>Debian puts the server programs in /usr/lib/postgresql/VERSION/bin, off the PATH.</summary>
    static string FindBinaries()
    {
        var candidates = Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql").Select(v => Path.Combine(v, "bin")).Where(b => File.Exists(Path.Combine(b, "initdb"))).Order().ToList()
            : [];
        return candidates.LastOrDefault() ?? throw new InvalidOperationException(
            "PostgreSQL server binaries not found under /usr/lib/postgresql (apt-get install postgresql; .ci/run does this).");
    }

    static void RunAs(bool asRoot, string program, IEnumerable<string> arguments)
    {
        if (asRoot) Run("runuser", ["-u", "postgres", "--", program, .. arguments]);
        else Run(program, arguments);
    }

    /// <summary>Runs a program to completion (two minutes at most); its output in the exception when it fails.</summary>
    public static void Run(string program, IEnumerable<string> arguments)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = "/tmp" };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(120_000)) { process.Kill(true); throw new InvalidOperationException($"{program} did not finish"); }
        if (process.ExitCode != 0) throw new InvalidOperationException($"{program} failed ({process.ExitCode}): {error.Result}{output.Result}");
    }

    public static int FreePort() => Agentry.Processes.ChildProcess.FreePort();
}
