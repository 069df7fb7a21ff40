using System.CommandLine;
using Agentry.Data;
using Agentry.Operations;
using Microsoft.EntityFrameworkCore;

namespace Agentry.Audit;

/// <summary><c>agentry audit verify</c>: the audit log's hash chain, checked from the server's shell.</summary>
public static class AuditCommands
{
    public static Command Audit(CommandHost host)
    {
        var verify = new Command("verify", "Check the audit log's hash chain; exit code 1 if it was tampered with.");
        verify.SetAction((_, ct) => VerifyAsync(host, ct));
        return new Command("audit", "The audit log.") { verify };
    }

    static async Task<int> VerifyAsync(CommandHost host, CancellationToken cancellationToken)
    {
        await using var scope = (await host.ReadyAsync()).CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<AgentryDbContext>();
        // Events staged with their changes but not chained yet (the service stopped before its writer ran) are chained first.
        var staged = await db.AuditOutbox.CountAsync(cancellationToken);
        if (staged > 0)
        {
            await AuditWriter.ChainStagedAsync(db, cancellationToken);
            Console.WriteLine($"Chained {staged} staged audit event(s) first.");
        }
        var result = await AuditChain.VerifyAsync(db, cancellationToken);
        Console.WriteLine(result.Valid
            ? $"Audit log intact: {result.Checked} event(s) verified."
            : $"AUDIT LOG TAMPERED: {result.Problem} ({result.Checked} event(s) checked).");
        return result.Valid ? 0 : 1;
    }
}
