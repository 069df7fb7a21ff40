namespace Agentry.Data;

public static class Ids
{
    public const string ConversationPrefix = "conv";
    public const string MessagePrefix = "msg";
    public const string DocumentPrefix = "doc";

    static long _last; // the last id's (milliseconds << 12 | counter)

    /// <summary>
    /// Prefixed, time-ordered ids (UUIDv7), so sorting by id is sorting by creation time. Within one process they are
    /// strictly increasing, also within a millisecond: the 12 bits after the timestamp count (RFC 9562, method 1), where
    /// <see cref="Guid.CreateVersion7()"/> puts random bits and two ids of one millisecond could sort either way.
    /// </summary>
    public static string New(string prefix)
    {
        long next, last;
        do
        {
            last = Volatile.Read(ref _last);
            next = Math.Max(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() << 12, last + 1);
        } while (Interlocked.CompareExchange(ref _last, next, last) != last);

        Span<byte> bytes = stackalloc byte[16];
        System.Security.Cryptography.RandomNumberGenerator.Fill(bytes);
        var milliseconds = next >> 12;
        for (var i = 0; i < 6; i++) bytes[i] = (byte)(milliseconds >> (40 - 8 * i));
        bytes[6] = (byte)(0x70 | ((next >> 8) & 0x0F)); // version 7, counter high bits
        bytes[7] = (byte)next;                          // counter low bits
        bytes[8] = (byte)(0x80 | (bytes[8] & 0x3F));    // RFC 9562 variant
        return $"{prefix}_{Convert.ToHexStringLower(bytes)}";
    }

    public static bool IsValid(string value, string prefix) =>
        value.Length == prefix.Length + 33 && value.StartsWith(prefix + "_", StringComparison.Ordinal) &&
        value.AsSpan(prefix.Length + 1).IndexOfAnyExcept(HexDigits) < 0;

    static readonly System.Buffers.SearchValues<char> HexDigits = System.Buffers.SearchValues.Create("0123456789abcdef");
}
