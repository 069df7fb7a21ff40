using Agentry.Data;

namespace Agentry.Tests.Data;

public sealed class IdsTests
{
    [Fact]
    public void Ids_made_in_the_same_millisecond_still_sort_in_creation_order_and_are_uuid_v7()
    {
        // Found on CI: two conversations created in one millisecond listed in the wrong order (random bits after the time).
        var ids = Enumerable.Range(0, 20_000).Select(_ => Ids.New(Ids.ConversationPrefix)).ToList();
        Assert.Equal(ids, ids.Order(StringComparer.Ordinal));
        Assert.Equal(ids.Count, ids.Distinct().Count());
        Assert.All(ids, id => Assert.True(Ids.IsValid(id, Ids.ConversationPrefix), id));
        var guid = Guid.ParseExact(ids[^1][(Ids.ConversationPrefix.Length + 1)..], "N");
        Assert.Equal(7, guid.Version);
        Assert.Equal(0b10, guid.Variant >> 2);
        var milliseconds = Convert.ToInt64(ids[^1].Substring(Ids.ConversationPrefix.Length + 1, 12), 16);
        Assert.InRange(DateTimeOffset.FromUnixTimeMilliseconds(milliseconds), DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddMinutes(1));
    }
}
