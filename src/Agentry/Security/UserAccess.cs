using Agentry.Data;
using Microsoft.EntityFrameworkCore;

namespace Agentry.Security;

/// <summary>
/// Who may read, change or delete what is stored about a user (<c>userId</c>): a key that sees every conversation (admin,
/// or any key without conversation isolation), or the key that owns that user's conversations. To delete the user, a
/// non-admin key must own all of them: one application cannot erase what another stored.
/// </summary>
public static class UserAccess
{
    public static async Task<bool> CanUseAsync(AgentryDbContext db, Caller? caller, SecurityOptions options, string userId, CancellationToken cancellationToken) =>
        ConversationAccess.SeesAll(caller, options)
        || (caller is not null && await db.Conversations.AnyAsync(c => c.UserId == userId && c.OwnerKeyId == caller.KeyId, cancellationToken));

    public static async Task<bool> CanForgetAsync(AgentryDbContext db, Caller? caller, SecurityOptions options, string userId, CancellationToken cancellationToken) =>
        ConversationAccess.SeesAll(caller, options)
        || (caller is not null && await CanUseAsync(db, caller, options, userId, cancellationToken)
            && !await db.Conversations.AnyAsync(c => c.UserId == userId && c.OwnerKeyId != caller.KeyId, cancellationToken));

    /// <summary>A user id as clients send it (the same limit as a conversation's userId).</summary>
    public static bool IsValidUserId(string userId) => userId.Length is > 0 and <= 128 && !userId.Any(char.IsControl);
}
