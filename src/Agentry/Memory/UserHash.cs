using System.Security.Cryptography;
using System.Text;

namespace Agentry.Memory;

/// <summary>
/// How the audit log names a user: a SHA-256 of the id, so the log keeps no personal identifier after the user is
/// forgotten, yet an operator asked "was this user deleted?" can hash the id and find the event.
/// </summary>
public static class UserHash
{
    public static string Of(string userId) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(userId)));
}
