using System.CommandLine;

namespace Agentry.Security;

/// <summary><c>agentry secrets new-key</c>: a value for a key setting, printed and stored nowhere.</summary>
public static class SecretsCommands
{
    public static Command Secrets()
    {
        var newKey = new Command("new-key",
            "Print 32 random bytes in base64: a value for AGENTRY_SECRETS_KEY, AGENTRY_BACKUP_KEY or AGENTRY_ADMIN_KEY. Nothing is stored.");
        newKey.SetAction(_ =>
        {
            Console.WriteLine(SecretsKey.NewValue());
            return 0;
        });
        return new Command("secrets", "Keys that protect stored secrets and backups.") { newKey };
    }
}
