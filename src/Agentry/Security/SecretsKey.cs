using System.Security.Cryptography;
using Agentry.Data;
using Agentry.Operations;
using Microsoft.Extensions.Options;

namespace Agentry.Security;

/// <summary>
/// The key that encrypts the key ring of Data Protection (which in turn encrypts MCP server secrets). The ring lives in
/// the database so every instance shares it and a backup carries it; this key never does, so a database dump or a backup
/// alone decrypts nothing. It comes from <c>Security:SecretsKey</c> (alias AGENTRY_SECRETS_KEY: 32 bytes, base64), from
/// the file <c>Security:SecretsKeyFile</c> names (AGENTRY_SECRETS_KEY_FILE: a mounted secret), or, on a single machine
/// with neither, from <c>secrets.key</c> in the data folder, created on first start readable only by the service's user.
/// Several instances must be given the same key.
/// </summary>
public sealed class SecretsKey(IOptions<SecurityOptions> security, IOptions<DataOptions> data, IHostEnvironment environment)
{
    public const string FileName = "secrets.key";
    const int Length = 32;
    readonly Lazy<(byte[] Key, string Source, bool Generated)> _key = new(() => Load(security.Value, data.Value.FullDirectory(environment.ContentRootPath)));

    public byte[] Bytes => _key.Value.Key;

    /// <summary>Whether a key is configured or its file exists, without creating one.</summary>
    public bool Exists => !string.IsNullOrWhiteSpace(security.Value.SecretsKey) || !string.IsNullOrWhiteSpace(security.Value.SecretsKeyFile) || File.Exists(DefaultPath);

    /// <summary>Where the key is kept when none is configured.</summary>
    public string DefaultPath => Path.Combine(data.Value.FullDirectory(environment.ContentRootPath), FileName);

    /// <summary>Where the key came from, for messages (never the key itself).</summary>
    public string Source => _key.Value.Source;

    /// <summary>Whether this start created the key file (so anything encrypted before was encrypted with another key).</summary>
    public bool Generated => _key.Value.Generated;

    /// <summary>A short name for the key that reveals nothing of it: which key encrypted a ring, and which one this instance has.</summary>
    public string Id => Convert.ToHexStringLower(SHA256.HashData([.. "agentry-secrets-key-id"u8, .. Bytes]))[..16];

    /// <summary>A new random key in the form the settings take, for an operator to store (agentry secrets new-key).</summary>
    public static string NewValue() => Convert.ToBase64String(RandomNumberGenerator.GetBytes(Length));

    static (byte[], string, bool) Load(SecurityOptions options, string dataFolder)
    {
        if (!string.IsNullOrWhiteSpace(options.SecretsKey)) return (Decode(options.SecretsKey, "Security:SecretsKey (AGENTRY_SECRETS_KEY)"), "Security:SecretsKey", false);
        if (!string.IsNullOrWhiteSpace(options.SecretsKeyFile))
        {
            if (!File.Exists(options.SecretsKeyFile))
                throw new StartupException($"Security:SecretsKeyFile (AGENTRY_SECRETS_KEY_FILE) names '{options.SecretsKeyFile}', which does not exist.");
            return (Decode(File.ReadAllText(options.SecretsKeyFile), $"the file {options.SecretsKeyFile}"), options.SecretsKeyFile, false);
        }
        var path = Path.Combine(dataFolder, FileName);
        if (File.Exists(path)) return (Decode(File.ReadAllText(path), path), path, false);
        Directory.CreateDirectory(dataFolder);
        var value = NewValue();
        // Written beside, then moved into place only if none is there: two instances starting together on one data
        // folder must end up with one key, not each with its own.
        var staging = $"{path}.{Environment.ProcessId}.{Guid.NewGuid():N}";
        OwnerOnlyFile.WriteAllTextAsync(staging, value + Environment.NewLine).GetAwaiter().GetResult();
        try
        {
            File.Move(staging, path, overwrite: false);
        }
        catch (IOException) when (File.Exists(path))
        {
            File.Delete(staging);
            return (Decode(File.ReadAllText(path), path), path, false);
        }
        return (Convert.FromBase64String(value), path, true);
    }

    static byte[] Decode(string text, string where)
    {
        if (text.Contains("change-me", StringComparison.OrdinalIgnoreCase))
            throw new StartupException($"The secrets key in {where} is still the placeholder from the example settings; make one with 'agentry secrets new-key'.");
        try
        {
            var key = Convert.FromBase64String(text.Trim());
            if (key.Length == Length) return key;
        }
        catch (FormatException)
        {
        }
        throw new StartupException($"The secrets key in {where} must be {Length} random bytes in base64 (44 characters); make one with 'agentry secrets new-key'.");
    }
}
