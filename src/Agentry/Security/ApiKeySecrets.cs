using System.Security.Cryptography;
using System.Text;

namespace Agentry.Security;

/// <summary>Making, recognising and hashing key secrets.</summary>
public static class ApiKeySecrets
{
    public const string SecretPrefix = "agk_";
    const int DisplayLength = 12;

    /// <summary>A new secret: <c>agk_</c> + 32 random bytes, base64url (43 characters).</summary>
    public static string NewSecret() => SecretPrefix + Base64Url(RandomNumberGenerator.GetBytes(32));

    public static string Hash(string secret) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(secret)));

    public static string DisplayPrefix(string secret) => secret.Length <= DisplayLength ? secret[..Math.Min(4, secret.Length)] : secret[..DisplayLength];

    /// <summary>
    /// The prefix shown for a secret an operator chose (AGENTRY_ADMIN_KEY): such secrets can be short, so at most a sixth of
    /// it (and never more than 8 characters) is ever displayed or logged.
    /// </summary>
    public static string ImportedDisplayPrefix(string secret) => secret[..Math.Min(8, secret.Length / 6)];

    static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
