using Agentry.Agents;
using Agentry.Api;
using Agentry.Conversations;
using Agentry.Data;
using Agentry.Models;
using Agentry.Operations;
using Agentry.Tools;

// agentry [serve] | agentry migrate | agentry version — the server is the default verb.
var (verb, hostArgs) = CommandLine.Split(args);
if (verb is "help" or "--help" or "-h") { CommandLine.PrintHelp(); return 0; }
if (verb is "version" or "--version") { Console.WriteLine(OperationsExtensions.Version); return 0; }

var builder = WebApplication.CreateBuilder(new WebApplicationOptions
{
    Args = hostArgs,
    EnvironmentName = ConfigurationAliases.EnvironmentName(Environment.GetEnvironmentVariable),
});
builder.AddConfigurationAliases();
builder.AddApi();
builder.AddData();
builder.AddModels();
builder.AddTools();
builder.AddAgents();
builder.AddConversations();
builder.AddOperations();

var app = builder.Build();

if (verb == "migrate")
{
    await app.Services.MigrateDatabaseAsync();
    Console.WriteLine("Database migrated.");
    return 0;
}
if (verb is not (null or "serve")) { CommandLine.PrintHelp(); return 2; }

if (app.Services.MigrateOnStartup()) await app.Services.MigrateDatabaseAsync();
app.Services.LoadAgentFiles();

app.UseApi();
app.MapOperationsApi();
app.MapAgentsApi();
app.MapConversationsApi();
app.MapApiDocs();
app.LogStartupBanner();

await app.RunAsync();
return 0;
