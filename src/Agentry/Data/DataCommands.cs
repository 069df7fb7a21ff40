using System.CommandLine;
using Agentry.Operations;

namespace Agentry.Data;

/// <summary><c>agentry migrate [--script]</c>: the database schema, as its own deploy step.</summary>
public static class DataCommands
{
    public static Command Migrate(CommandHost host)
    {
        var script = new Option<bool>("--script") { Description = "Print the SQL that would migrate this database, changing nothing." };
        var migrate = new Command("migrate", "Apply database migrations and exit.") { script };
        migrate.SetAction(async (parse, ct) =>
        {
            if (parse.GetValue(script))
            {
                var sql = await host.Services.MigrationScriptAsync(ct);
                Console.WriteLine(string.IsNullOrWhiteSpace(sql) ? "The database is up to date: there is nothing to migrate." : sql);
                return 0;
            }
            await host.Services.MigrateDatabaseAsync(ct);
            Console.WriteLine("Database migrated.");
            return 0;
        });
        return migrate;
    }
}
