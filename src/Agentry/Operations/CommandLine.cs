namespace Agentry.Operations;

/// <summary>One executable: the first argument, when it is not an option, picks the verb; the rest configure the host.</summary>
public static class CommandLine
{
    public static (string? Verb, string[] HostArgs) Split(string[] args) =>
        args.Length > 0 && !args[0].StartsWith('-') ? (args[0].ToLowerInvariant(), args[1..]) :
        args.Length > 0 && args[0] is "--help" or "-h" or "--version" ? (args[0], args[1..]) :
        (null, args);

    public static void PrintHelp() => Console.WriteLine("""
        Usage: agentry [verb] [--setting value ...]

        Verbs:
          serve      Start the service (default).
          migrate    Apply database migrations and exit.
          version    Print the version.
          help       Show this text.

        Any setting can follow the verb, e.g. --urls http://0.0.0.0:8080 or --Data:Directory /var/lib/agentry.
        See docs/configuration.md.
        """);
}
