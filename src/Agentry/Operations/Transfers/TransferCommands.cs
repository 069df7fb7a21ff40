using System.CommandLine;
using System.Text.Json;
using Agentry.Agents;
using Agentry.Audit;

namespace Agentry.Operations.Transfers;

/// <summary><c>agentry export agents|user</c> and <c>agentry import agents|user</c>: moving agents and one user's data between installations.</summary>
public static class TransferCommands
{
    public static Command Export(CommandHost host)
    {
        var agentsFolder = new Option<string>("--to") { Description = "The folder to write DIR/{id}.yaml into.", DefaultValueFactory = _ => "agents-export" };
        var agents = new Command("agents", "Write every agent as DIR/{id}.yaml, the agents folder's format.") { agentsFolder };
        agents.SetAction((parse, ct) => ExportAgentsAsync(host, parse.GetValue(agentsFolder)!, ct));

        var userId = new Argument<string>("USER_ID") { Description = "The end user's id (a conversation's userId)." };
        var userFile = new Option<string?>("--to") { Description = "The JSON file to write (default ./user-USER_ID.json); readable only by you." };
        var user = new Command("user", "Write everything stored about one user (conversations, messages, approvals) as JSON.") { userId, userFile };
        user.SetAction((parse, ct) => ExportUserAsync(host, parse.GetValue(userId)!, parse.GetValue(userFile), ct));

        return new Command("export", "Write agents or one user's data to files.") { agents, user };
    }

    public static Command Import(CommandHost host)
    {
        var path = new Argument<string>("PATH") { Description = "A YAML file or a folder of them." };
        var agents = new Command("agents", "Create or update agents from YAML; each file is checked against this installation's models and tools.") { path };
        agents.SetAction((parse, ct) => ImportAgentsAsync(host, parse.GetValue(path)!, ct));

        var file = new Argument<string>("FILE") { Description = "A file 'agentry export user' wrote." };
        var user = new Command("user", "Add a user's exported conversations; those already here are left as they are.") { file };
        user.SetAction((parse, ct) => ImportUserAsync(host, parse.GetValue(file)!, ct));

        return new Command("import", "Read agents or one user's data from files.") { agents, user };
    }

    static async Task<int> ExportAgentsAsync(CommandHost host, string folder, CancellationToken cancellationToken)
    {
        var services = await host.ReadyAsync();
        services.LoadAgentFiles();
        await using var scope = services.CreateAsyncScope();
        var written = await scope.ServiceProvider.GetRequiredService<AgentTransfer>().ExportAsync(Path.GetFullPath(folder), AuditActor.Cli, cancellationToken);
        foreach (var file in written) Console.WriteLine(file);
        Console.WriteLine($"Exported {written.Count} file(s).");
        return 0;
    }

    static async Task<int> ImportAgentsAsync(CommandHost host, string path, CancellationToken cancellationToken)
    {
        var services = await host.ReadyAsync();
        services.LoadAgentFiles(); // so an agent defined in a file here is not shadowed by an import
        await using var scope = services.CreateAsyncScope();
        var outcomes = await scope.ServiceProvider.GetRequiredService<AgentTransfer>().ImportAsync(path, AuditActor.Cli, cancellationToken);
        await CommandHost.ChainAuditAsync(scope.ServiceProvider);
        foreach (var o in outcomes)
            (o.Failed ? Console.Error : Console.Out).WriteLine($"{o.File}: {o.Outcome}{(o.AgentId is null ? "" : $" '{o.AgentId}'")}{(o.Detail is null ? "" : $": {o.Detail}")}");
        if (outcomes.Count == 0) Console.Error.WriteLine($"No agent file (*.yaml, *.yml) in {path}.");
        Console.WriteLine($"{outcomes.Count(o => !o.Failed)} imported or unchanged, {outcomes.Count(o => o.Failed)} refused.");
        return outcomes.Count > 0 && outcomes.All(o => !o.Failed) ? 0 : 1;
    }

    static async Task<int> ExportUserAsync(CommandHost host, string userId, string? file, CancellationToken cancellationToken)
    {
        file ??= $"user-{userId}.json";
        await using var scope = (await host.ReadyAsync()).CreateAsyncScope();
        var export = await scope.ServiceProvider.GetRequiredService<UserDataTransfer>().ExportAsync(userId, AuditActor.Cli, cancellationToken);
        if (export is null)
        {
            Console.Error.WriteLine($"Nothing is stored for user '{userId}'.");
            return 1;
        }
        await using (var stream = OwnerOnlyFile.Create(file)) // personal data: readable by the operator's user only
            await JsonSerializer.SerializeAsync(stream, export, UserDataExport.Json, cancellationToken);
        Console.WriteLine($"Exported {export.ConversationCount} conversation(s) and {export.MessageCount} message(s) of '{userId}' to {Path.GetFullPath(file)}.");
        return 0;
    }

    static async Task<int> ImportUserAsync(CommandHost host, string file, CancellationToken cancellationToken)
    {
        UserDataExport? export;
        try
        {
            await using var stream = File.OpenRead(file);
            export = await JsonSerializer.DeserializeAsync<UserDataExport>(stream, UserDataExport.Json, cancellationToken);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException)
        {
            Console.Error.WriteLine($"Cannot read {file}: {e.Message}");
            return 1;
        }
        if (export is null)
        {
            Console.Error.WriteLine($"{file} is empty.");
            return 1;
        }
        await using var scope = (await host.ReadyAsync()).CreateAsyncScope();
        try
        {
            var result = await scope.ServiceProvider.GetRequiredService<UserDataTransfer>().ImportAsync(export, AuditActor.Cli, cancellationToken);
            await CommandHost.ChainAuditAsync(scope.ServiceProvider);
            Console.WriteLine($"Imported {result.Imported} conversation(s) with {result.Messages} message(s) for '{result.UserId}'" +
                (result.AlreadyPresent.Count > 0 ? $"; {result.AlreadyPresent.Count} were already here and left as they are." : "."));
            return 0;
        }
        catch (InvalidDataException e)
        {
            Console.Error.WriteLine($"{file}: {e.Message}");
            return 1;
        }
    }
}
