using Agentry.Agents;
using Agentry.Api;
using Agentry.Approvals;
using Agentry.Audit;
using Agentry.Conversations;
using Agentry.Data;
using Agentry.Mcp;
using Agentry.Memory;
using Agentry.Models;
using Agentry.Observability;
using Agentry.Operations;
using Agentry.Rules;
using Agentry.Security;
using Agentry.Tools;

// agentry [serve] | migrate | keys … | audit verify | version — the server is the default verb.
var (verb, hostArgs) = CommandLine.Split(args);
if (verb is "help" or "--help" or "-h") { CommandLine.PrintHelp(); return 0; }
if (verb is "version" or "--version") { Console.WriteLine(OperationsExtensions.Version); return 0; }

try
{
    var builder = WebApplication.CreateBuilder(new WebApplicationOptions
    {
        Args = CommandLine.SettingsOnly(hostArgs),
        EnvironmentName = ConfigurationAliases.EnvironmentName(Environment.GetEnvironmentVariable),
    });
    builder.AddConfigurationAliases();
    builder.UseDefaultAddress();
    builder.Services.AddSingleton(TimeProvider.System);
    builder.AddObservability();
    builder.AddApi();
    builder.AddData();
    builder.AddAudit();
    builder.AddSecurity();
    builder.AddModels();
    builder.AddTools();
    builder.AddMcp();
    builder.AddMemory();
    builder.AddAgents();
    builder.AddRules();
    builder.AddApprovals();
    builder.AddConversations();
    builder.AddOperations();

    var app = builder.Build();
    app.Services.ValidateSettings(); // every option checked now, before anything starts: a bad one is one clear line

    if (verb is not (null or "serve")) return await CommandLine.RunAsync(verb, hostArgs, app.Services);

    await app.Services.PrepareDatabaseAsync(); // create a new database; migrate an existing one where allowed
    await app.Services.PrepareSecretsAsync();    // the secrets key reads the key ring (Security/SecretsKeyRing.cs)
    await app.Services.CheckToolPoliciesAsync(); // a policy for an MCP tool names a server that exists
    await app.Services.EnsureAdminKeyAsync();
    app.Services.LoadAgentFiles();
    Tokens.Load(); // the o200k vocabulary (about 0.2 s), read now rather than in the first request

    app.UseApi();
    app.UseRequestAnalytics(); // outside security, so refused requests (401/403/429) are counted too
    app.UseSecurity();
    app.UseRequestLogScope();
    app.MapOperationsApi();
    app.MapObservabilityApi();
    app.MapSecurityApi();
    app.MapAuditApi();
    app.MapAgentsApi();
    app.MapToolsApi();
    app.MapMcpApi();
    app.MapRulesApi();
    app.MapApprovalsApi();
    app.MapConversationsApi();
    app.MapApiDocs();
    app.LogStartupBanner();

    app.Services.CloseDatabaseWhenStopped();
    await app.RunAsync(); // SIGTERM: drain (Operations/Drain.cs), finish or interrupt turns, flush, close the database
    return 0;
}
catch (Exception e) when (StartupFailure.Describe(e) is { } message)
{
    // One line that names the setting or file, not a stack trace: the operator's next step is to fix that line.
    Console.Error.WriteLine($"Agentry could not start. {message}");
    return 1;
}
