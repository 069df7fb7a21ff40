using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Agentry.Data;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Agentry.Tests;

/// <summary>
/// Which database the suite runs on: SQLite (the default) or, with <c>AGENTRY_TEST_DATABASE=postgres</c>, a throw-away
/// PostgreSQL cluster (<see cref="Data.PostgresServer"/>). <c>.ci/run</c> runs the suite both ways; tests about the
/// SQLite file itself carry <c>[Trait("Database", "sqlite")]</c>, tests that always bring their own PostgreSQL and
/// Redis <c>[Trait("Database", "own")]</c>, and tests whose subject does not depend on the database (settings read at
/// start, response headers) <c>[Trait("Database", "any")]</c>; all three are left out of the PostgreSQL pass.
/// </summary>
public static class TestDatabase
{
    public static bool IsPostgres => Environment.GetEnvironmentVariable("AGENTRY_TEST_DATABASE") == "postgres";

    static readonly System.Collections.Concurrent.ConcurrentDictionary<string, string> Databases = new();
    static readonly System.Collections.Concurrent.ConcurrentDictionary<string, bool> EmptyFolders = new();

    /// <summary>
    /// The settings that point a service at the database of a data folder (none on SQLite: the folder holds the file).
    /// The database is already at the current schema with the shipped help-center indexed, a copy of one prepared once
    /// per run (<see cref="PrepareTemplate"/>; on SQLite the file is copied into the folder unless it has one): applying
    /// every migration to a new database cost each test app about a tenth of its CPU. Tests about migrating a new
    /// database ask for <see cref="StartEmpty"/>.
    /// </summary>
    public static Dictionary<string, string> SettingsFor(string folder)
    {
        if (IsPostgres) return new() { ["Data:Provider"] = "postgres", ["Data:ConnectionString"] = ConnectionStringFor(folder) };
        var file = SqliteFile(folder);
        if (!EmptyFolders.ContainsKey(Path.GetFullPath(folder)) && Directory.Exists(folder) && !File.Exists(file))
            File.Copy(SqliteTemplate.Value, file);
        return [];
    }

    /// <summary>Where the service keeps its SQLite database in a data folder (Data:Directory).</summary>
    static string SqliteFile(string folder) => Path.Combine(folder, "agentry.db");

    /// <summary>The service that starts on <paramref name="folder"/> finds an empty database and migrates it itself; call before <see cref="SettingsFor"/>.</summary>
    public static void StartEmpty(string folder) => EmptyFolders[Path.GetFullPath(folder)] = true;

    static string ConnectionStringFor(string folder) => Databases.GetOrAdd(Path.GetFullPath(folder), path =>
        EmptyFolders.ContainsKey(path) ? Data.PostgresServer.Shared.CreateEmptyDatabase() : Data.PostgresServer.Shared.CreateDatabase());

    /// <summary>
    /// What the template's own start wrote besides the help-center, which depends on its settings and would not be in a
    /// test's database: the bootstrap admin key and secrets key ring (tests start with other keys, or none), the agents'
    /// versions (tests bring other agents), the audit events of all that, and the usage of the requests that waited.
    /// Each test's service writes its own at start.
    /// </summary>
    internal static readonly string[] TemplateStartTables = ["api_keys", "data_protection_keys", "agent_versions", "audit_events", "audit_outbox", "analytics_buckets"];

    static readonly Lazy<string> SqliteTemplate = new(() =>
    {
        var folder = Directory.CreateTempSubdirectory("agentry-template-").FullName;
        AppDomain.CurrentDomain.ProcessExit += (_, _) => Directory.Delete(folder, recursive: true);
        StartEmpty(folder);
        PrepareTemplate(new() { ["Data:Directory"] = folder });
        using (var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={SqliteFile(folder)};Pooling=False"))
        {
            connection.Open();
            using var command = connection.CreateCommand();
            // Ids start again from 1; then the write-ahead log is folded in, so that the one file is the whole database.
            command.CommandText = string.Concat(TemplateStartTables.Select(t => $"DELETE FROM {t};")) + "DELETE FROM sqlite_sequence;PRAGMA wal_checkpoint(TRUNCATE);";
            command.ExecuteNonQuery();
        }
        return SqliteFile(folder);
    });

    /// <summary>
    /// Fills the database a run's test databases are copied from: a service started on it migrates it and indexes the
    /// shipped help-center, as every test app's would at start. Indexing it (the local model loaded, 45 passages embedded)
    /// in each of the suite's hundreds of apps was about an eighth of the test process's CPU; apps started on a copy
    /// find every document unchanged. (The test of a database being migrated asks for <see cref="StartEmpty"/>.)
    /// </summary>
    internal static void PrepareTemplate(Dictionary<string, string?> settings)
    {
        Task.Run(async () =>
        {
            await using var app = new AgentryApp(settings: settings);
            // A plain client: the contract-checking one fetches the OpenAPI document from an app of its own, which would
            // wait for this template.
            using var client = app.CreateClient();
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", AgentryApp.AdminKey);
            await Knowledge.KnowledgeFiles.ShippedHelpCenterAsync(client);
        }).GetAwaiter().GetResult();
    }

    /// <summary>
    /// A plain connection to the database of a data folder, as an operator's SQL tool would open it. PostgreSQL's are
    /// pooled (a pool of the tests' own, by application name): a new server connection per query costs a backend
    /// process each, and a test that counts rows around each of thousands of requests spent minutes on them.
    /// </summary>
    public static System.Data.Common.DbConnection Connect(string folder, bool readOnly = false) => IsPostgres
        ? new Npgsql.NpgsqlConnection(ConnectionStringFor(folder) + ";Application Name=agentry-tests")
        : new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={SqliteFile(folder)};{(readOnly ? "Mode=ReadOnly;" : "")}Pooling=False");

    /// <summary>
    /// Makes the database unusable under a running service: SQLite's file is replaced with garbage; PostgreSQL refuses
    /// new connections to it and ends the open ones.
    /// </summary>
    public static async Task BreakAsync(string folder)
    {
        if (IsPostgres)
        {
            var name = new Npgsql.NpgsqlConnectionStringBuilder(ConnectionStringFor(folder)).Database;
            await using var admin = new Npgsql.NpgsqlConnection(Data.PostgresServer.Shared.AdminConnectionString);
            await admin.OpenAsync();
            await using var command = new Npgsql.NpgsqlCommand(
                $"ALTER DATABASE {name} ALLOW_CONNECTIONS false; SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'", admin);
            await command.ExecuteNonQueryAsync();
            return;
        }
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        foreach (var file in Directory.GetFiles(folder)) File.Delete(file);
        await File.WriteAllTextAsync(SqliteFile(folder), new string('x', 8192));
    }

    public static async Task<object?> ScalarAsync(string folder, string sql, bool readOnly = false)
    {
        await using var connection = Connect(folder, readOnly);
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        return await command.ExecuteScalarAsync();
    }

    public static async Task<int> ExecuteAsync(string folder, string sql)
    {
        await using var connection = Connect(folder);
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        return await command.ExecuteNonQueryAsync();
    }
}
