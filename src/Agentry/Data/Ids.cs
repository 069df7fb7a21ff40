namespace Agentry.Data;

public static class Ids
{
    public const string ConversationPrefix = "conv";
    public const string MessagePrefix = "msg";

    /// <summary>Prefixed, time-ordered ids (UUIDv7), so sorting by id is sorting by creation time.</summary>
    public static string New(string prefix) => $"{prefix}_{Guid.CreateVersion7():N}";

    public static bool IsValid(string value, string prefix) =>
        value.Length == prefix.Length + 33 && value.StartsWith(prefix + "_", StringComparison.Ordinal) &&
        value.AsSpan(prefix.Length + 1).IndexOfAnyExcept(HexDigits) < 0;

    static readonly System.Buffers.SearchValues<char> HexDigits = System.Buffers.SearchValues.Create("0123456789abcdef");
}
