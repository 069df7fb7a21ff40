using System.CommandLine;
using Agentry.Agents;
using Agentry.Api;
using Agentry.Approvals;
using Agentry.Audit;
using Agentry.Conversations;
using Agentry.Data;
using Agentry.Evals;
using Agentry.Knowledge;
using Agentry.Mcp;
using Agentry.Memory;
using Agentry.Models;
using Agentry.Observability;
using Agentry.OpenAi;
using Agentry.Operations;
using Agentry.Operations.Backups;
using Agentry.Operations.Transfers;
using Agentry.Privacy;
using Agentry.Readiness;
using Agentry.Rules;
using Agentry.Security;
using Agentry.Streaming;
using Agentry.Tools;
using Agentry.WebConsole;
using Agentry.Webhooks;

// agentry [serve] | migrate | keys … | secrets new-key | audit verify | backup | backups list | restore | export … | import … | knowledge … | doctor | eval run …
// Settings (--Section:Key value, --urls …) may follow any command: they configure the host the command runs against.
var (settings, command) = CommandHost.Split(args);
settings = EvalCommands.QuietLogs(command, settings); // an eval prints its own progress and table, not the service's log
var host = new CommandHost(Build, settings);
var root = new RootCommand("Agentry: several AI agents, each with a personality and business rules, behind the controls an operator needs.")
{
    Serve(), DataCommands.Migrate(host), KeysCommands.Keys(host), SecretsCommands.Secrets(), AuditCommands.Audit(host),
    BackupCommands.Backup(host), BackupCommands.Backups(host), BackupCommands.Restore(host), TransferCommands.Export(host), TransferCommands.Import(host),
    KnowledgeCommands.Knowledge(host), ReadinessCommands.Doctor(host), EvalCommands.Eval(host),
    OperationsCommands.Version(),
};
root.Add(OperationsCommands.Help(root));
root.SetAction((_, _) => ServeAsync(host.App)); // the server is the default command
try
{
    // Failures reach the catch below (one line naming the setting or file); SIGTERM is the host's (Operations/Drain.cs), not the parser's.
    return await root.Parse(command).InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false, ProcessTerminationTimeout = null });
}
catch (Exception e) when (StartupFailure.Describe(e) is { } message)
{
    // One line that names the setting or file, not a stack trace: the operator's next step is to fix that line.
    Console.Error.WriteLine($"Agentry could not start. {message}");
    return 1;
}

Command Serve()
{
    var serve = new Command("serve", "Start the service (the default when no command is given).");
    serve.SetAction((_, _) => ServeAsync(host.App));
    return serve;
}

static WebApplication Build(string[] settings)
{
    var builder = WebApplication.CreateBuilder(new WebApplicationOptions
    {
        Args = settings,
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
    builder.AddKnowledge();
    builder.AddPrivacy();
    builder.AddAgents();
    builder.AddRules();
    builder.AddApprovals();
    builder.AddStreaming();
    builder.AddWebhooks();
    builder.AddConversations();
    builder.AddOpenAi();
    builder.AddOperations();
    builder.AddReadiness();
    builder.AddEvals();
    builder.AddWebConsole();
    return builder.Build();
}

static async Task<int> ServeAsync(WebApplication app)
{
    await app.Services.PrepareDatabaseAsync();   // create a new database; migrate an existing one where allowed
    await app.Services.PrepareSecretsAsync();    // the secrets key reads the key ring (Security/SecretsKeyRing.cs)
    await app.Services.CheckToolPoliciesAsync(); // a policy for an MCP tool names a server that exists
    await app.Services.EnsureAdminKeyAsync();
    app.Services.LoadAgentFiles();
    await app.Services.RecordAgentVersionsAsync(); // a file changed while the service was down is a new version
    await app.Services.SyncKnowledgeFolderAsync(); // knowledge/<kb>/… files next to the agents: new and changed ones are indexed
    Tokens.Load(); // the o200k vocabulary (about 0.2 s), read now rather than in the first request

    app.UseApi();
    app.UseRequestAnalytics(); // outside security, so refused requests (401/403/429) are counted too
    app.UseSecurity();
    app.UseRequestLogScope();
    app.MapOperationsApi();
    app.MapReadinessApi();
    app.MapObservabilityApi();
    app.MapSecurityApi();
    app.MapAuditApi();
    app.MapAgentsApi();
    app.MapToolsApi();
    app.MapMcpApi();
    app.MapKnowledgeApi();
    app.MapMemoryApi();
    app.MapPrivacyApi();
    app.MapRulesApi();
    app.MapApprovalsApi();
    app.MapConversationsApi();
    app.MapOpenAiApi();
    app.MapEvalsApi();
    app.MapApiDocs();
    app.MapWebConsole();
    app.LogStartupBanner();

    app.Services.CloseDatabaseWhenStopped();
    await app.RunAsync(); // SIGTERM: drain (Operations/Drain.cs), finish or interrupt turns, flush, close the database
    return 0;
}
