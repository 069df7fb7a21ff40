using Agentry.Models;
using Agentry.Operations;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Agentry.Tests.Operations;

/// <summary>Settings are read and refused before the database matters: run once, not again on PostgreSQL.</summary>
[Trait("Database", "any")]
public sealed class ConfigurationTests
{
    static ConfigurationManager Build(Dictionary<string, string?> variables, Dictionary<string, string?>? explicitSettings = null)
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Configuration.AddEnvironmentVariables(); // the unprefixed source the aliases are placed before
        builder.Configuration.AddInMemoryCollection(explicitSettings ?? []);
        builder.AddConfigurationAliases(name => variables.GetValueOrDefault(name));
        return builder.Configuration;
    }

    [Fact]
    public void Operator_variable_names_map_onto_settings()
    {
        var configuration = Build(new()
        {
            ["OPENAI_API_KEY"] = "sk-1", ["OPENAI_BASE_URL"] = "http://localhost:11434/v1", ["OPENAI_MODEL"] = "llama3.1",
            ["LOG_LEVEL"] = "warn", ["AGENTRY_DATA_DIR"] = "/var/lib/agentry", ["API_RATE_LIMIT"] = "250", ["ENABLE_SECURITY"] = "false",
        });
        Assert.Equal("sk-1", configuration["Models:Endpoints:openai:ApiKey"]);
        Assert.Equal("http://localhost:11434/v1", configuration["Models:Endpoints:openai:BaseUrl"]);
        Assert.Equal("llama3.1", configuration["Models:Endpoints:openai:DefaultModel"]);
        Assert.Equal("Warning", configuration["Logging:LogLevel:Default"]);
        Assert.Equal("/var/lib/agentry", configuration["Data:Directory"]);
        Assert.Equal("250", configuration["RateLimit:PermitsPerMinute"]);
        Assert.Equal("false", configuration["Security:Enabled"]);
    }

    [Fact]
    public void Explicit_settings_win_over_aliases()
    {
        var configuration = Build(new() { ["AGENTRY_DATA_DIR"] = "/from-alias" }, new() { ["Data:Directory"] = "/explicit" });
        Assert.Equal("/explicit", configuration["Data:Directory"]);
    }

    [Fact]
    public void ENVIRONMENT_names_the_environment_only_when_the_standard_variables_are_absent()
    {
        Assert.Equal("Production", ConfigurationAliases.EnvironmentName(n => n == "ENVIRONMENT" ? "production" : null));
        Assert.Equal("Development", ConfigurationAliases.EnvironmentName(n => n == "ENVIRONMENT" ? "dev" : null));
        Assert.Null(ConfigurationAliases.EnvironmentName(n => n switch { "ENVIRONMENT" => "production", "ASPNETCORE_ENVIRONMENT" => "Staging", _ => null }));
    }

    [Fact]
    public void Default_model_follows_the_openai_endpoint()
    {
        Assert.Equal("offline", new ModelOptions().EffectiveDefaultModel);
        var withKey = new ModelOptions { Endpoints = { ["openai"] = new ModelEndpointOptions { ApiKey = "sk" } } };
        Assert.Equal("openai/gpt-4o", withKey.EffectiveDefaultModel);
        var local = new ModelOptions { Endpoints = { ["openai"] = new ModelEndpointOptions { BaseUrl = "http://localhost:11434/v1", DefaultModel = "llama3.1" } } };
        Assert.Equal("openai/llama3.1", local.EffectiveDefaultModel);
    }

    /// <summary>The real executable, as an operator starts it: one line naming the setting, a non-zero exit, no stack trace.</summary>
    [Theory]
    [InlineData("Models:Endpoints:bad:Provider", "anthropic", "Models:Endpoints:bad:Provider is 'anthropic'")]
    [InlineData("Models:Endpoints:local:BaseUrl", "not a url", "Models:Endpoints:local:BaseUrl 'not a url' is not an absolute http(s) URL")]
    [InlineData("Models:DefaultModel", "ghost/model", "names endpoint 'ghost', which is not configured")]
    [InlineData("Conversations:HistoryLimit", "0", "Conversations:HistoryLimit: The field HistoryLimit must be between 1 and 1000")]
    [InlineData("Api:MaxRequestBodyBytes", "10", "Api:MaxRequestBodyBytes")]
    [InlineData("API_RATE_LIMIT", "100000000", "RateLimit:PermitsPerMinute")]
    [InlineData("Monitoring:Alerts:0:Metric", "happiness", "Monitoring:Alerts")]
    [InlineData("Security:Enabled", "false", "allowed only in Development")]
    [InlineData("Models:Resilience:MaxRetries", "many", "Models:Resilience:MaxRetries")]
    [InlineData("Data:Directory", "/etc/hostname/data", "Cannot use the data folder")]
    [InlineData("Data:SqliteSynchronous", "OFF", "Data:SqliteSynchronous: Must be NORMAL or FULL")]
    [InlineData("Tools:Policies:0:Tool", "refnud", "Tools:Policies:0:Tool 'refnud': there is no built-in tool named 'refnud'")]
    [InlineData("Tools:Policies:refund:ApprovalAbove", "50", "Tools:Policies:refund uses the keyed form; Tools:Policies is a list")]
    [InlineData("Tools:Policies:0:Tool", "mcp:crm/refund", "names the MCP server 'crm', which is neither in Mcp:Servers nor added through the API")]
    [InlineData("Tools:Policies:0:MaxPerCall", "10", "Tools:Policies:0:Tool is required")]
    [InlineData("Mcp:Servers:fs:Args", "--root,/data", "Mcp:Servers:fs:Args is a list and its items may contain commas")]
    [InlineData("LOG_LEVEL", "loud", "Logging:LogLevel:Default is 'loud', which is not a log level")]
    [InlineData("Logging:LogLevel:Microsoft.AspNetCore", "chatty", "Logging:LogLevel:Microsoft.AspNetCore is 'chatty'")]
    [InlineData("AGENTRY_ADMIN_KEY", "short", "'agentry secrets new-key' prints a suitable random value")]
    [InlineData("AGENTRY_SECRETS_KEY", "change-me-to-agentry-secrets-new-key", "is still the placeholder")]
    [InlineData("AGENTRY_BACKUP_KEY", "not-base64!", "Backup:EncryptionKey (AGENTRY_BACKUP_KEY) must be 32 random bytes in base64")]
    [InlineData("Redis:OnFailure", "ignore", "Redis:OnFailure must be 'refuse' or 'local'")]
    [InlineData("Conversations:SummaryModel", "cheap/mini", "Conversations:SummaryModel names the endpoint 'cheap', which is not configured")]
    [InlineData("Knowledge:EmbeddingModel", "nowhere/text-embedding-3-small", "Knowledge:EmbeddingModel names the endpoint 'nowhere', which is not configured")]
    [InlineData("Webhooks:Endpoints:0:Url", "ftp://receiver.example", "Webhooks:Endpoints:0:Url: Must be an absolute http(s) URL.")]
    [InlineData("Streaming:ResumeWindow", "00:00:01", "Streaming:ResumeWindow")]
    [InlineData("Models:LocalEmbeddingWeights", "int4", "Models:LocalEmbeddingWeights is 'int4'; use one of: Int8Vocabulary, Int8, Float32.")]
    public async Task A_bad_setting_stops_start_up_with_one_message_naming_it(string key, string value, string expected)
    {
        var folder = Directory.CreateTempSubdirectory("agentry-start-").FullName;
        try
        {
            var settings = new Dictionary<string, string> { [key] = value };
            var (exitCode, output) = await AgentryProcess.RunCommandAsync(folder, settings);
            Assert.True(exitCode != 0, output);
            Assert.Contains(expected, output);
            Assert.DoesNotContain("Unhandled exception", output);
            Assert.DoesNotContain("   at ", output);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public async Task An_address_in_use_is_one_line_on_stderr_and_nothing_else()
    {
        var folder = Directory.CreateTempSubdirectory("agentry-start-").FullName;
        using var taken = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        taken.Start();
        try
        {
            var port = ((System.Net.IPEndPoint)taken.LocalEndpoint).Port;
            var (exitCode, output) = await AgentryProcess.RunCommandAsync(folder, new Dictionary<string, string> { ["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}" });
            Assert.Equal(1, exitCode);
            Assert.Contains("Agentry could not start. Cannot listen", output);
            Assert.DoesNotContain("   at ", output); // no stack frames, in the log or anywhere
            Assert.DoesNotContain("BackgroundService failed", output);
            Assert.DoesNotContain("Hosting failed to start", output);
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public async Task A_broken_agent_file_stops_start_up_with_one_message_naming_the_file_and_line()
    {
        var folder = Directory.CreateTempSubdirectory("agentry-start-").FullName;
        var agents = Directory.CreateDirectory(Path.Combine(folder, "agents")).FullName;
        try
        {
            await File.WriteAllTextAsync(Path.Combine(agents, "broken.yaml"), "id: broken\nname: [unclosed\ntemperature: hot\n");
            var (exitCode, output) = await AgentryProcess.RunCommandAsync(folder, new Dictionary<string, string> { ["Agents:Directory"] = agents });
            Assert.True(exitCode != 0, output);
            Assert.Contains("broken.yaml, line 2", output);
            Assert.DoesNotContain("System.", output.Split('\n').Last(l => l.Contains("broken.yaml", StringComparison.Ordinal)));
            Assert.DoesNotContain("   at ", output);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public async Task The_platform_port_variable_overrides_the_default_address()
    {
        var folder = Directory.CreateTempSubdirectory("agentry-start-").FullName;
        var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        try
        {
            await using var service = new AgentryProcess(folder, new() { ["ASPNETCORE_URLS"] = "", ["ASPNETCORE_HTTP_PORTS"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture) });
            using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
            await Wait.UntilAsync(async () =>
            {
                try { return (await client.GetAsync("/health/live")).IsSuccessStatusCode; }
                catch (HttpRequestException) { return false; }
            }, TimeSpan.FromSeconds(60), "the service answers on the port ASPNETCORE_HTTP_PORTS names");
            Assert.DoesNotContain("localhost:5080", service.Output);
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(folder, recursive: true);
        }
    }
}
