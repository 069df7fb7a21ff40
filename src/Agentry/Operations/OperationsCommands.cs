using System.CommandLine;

namespace Agentry.Operations;

/// <summary><c>agentry version</c> and <c>agentry help</c> (the same as <c>--help</c>, for those who type the word).</summary>
public static class OperationsCommands
{
    public static Command Version()
    {
        var version = new Command("version", "Print the version.");
        version.SetAction(_ =>
        {
            Console.WriteLine(OperationsExtensions.Version);
            return 0;
        });
        return version;
    }

    public static Command Help(RootCommand root)
    {
        var help = new Command("help", "Show this help.") { Hidden = true };
        help.SetAction(_ => root.Parse(["--help"]).Invoke());
        return help;
    }
}
