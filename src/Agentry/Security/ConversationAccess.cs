using Agentry.Conversations;

namespace Agentry.Security;

/// <summary>Which conversations a caller may see: its own, unless it is an admin or isolation is off.</summary>
public static class ConversationAccess
{
    public static bool SeesAll(Caller? caller, SecurityOptions options) => caller is null || caller.IsAdmin || !options.IsolateConversations;

    public static IQueryable<Conversation> VisibleTo(this IQueryable<Conversation> conversations, Caller? caller, SecurityOptions options) =>
        SeesAll(caller, options) ? conversations : conversations.Where(c => c.OwnerKeyId == caller!.KeyId);

    public static bool CanSee(this Conversation conversation, Caller? caller, SecurityOptions options) =>
        SeesAll(caller, options) || conversation.OwnerKeyId == caller!.KeyId;
}
