using Agentry.Conversations;

namespace Agentry.Security;

/// <summary>
/// Which conversations a caller may see: its own, unless it is an admin or isolation is off. No caller sees nothing:
/// an endpoint reached without a key (a wiring mistake) must fail closed, not open.
/// </summary>
public static class ConversationAccess
{
    public static bool SeesAll(Caller? caller, SecurityOptions options) => caller is not null && (caller.IsAdmin || !options.IsolateConversations);

    public static IQueryable<Conversation> VisibleTo(this IQueryable<Conversation> conversations, Caller? caller, SecurityOptions options) =>
        SeesAll(caller, options) ? conversations
        : caller is null ? conversations.Where(c => false)
        : conversations.Where(c => c.OwnerKeyId == caller.KeyId);

    public static bool CanSee(this Conversation conversation, Caller? caller, SecurityOptions options) =>
        SeesAll(caller, options) || (caller is not null && conversation.OwnerKeyId == caller.KeyId);
}
