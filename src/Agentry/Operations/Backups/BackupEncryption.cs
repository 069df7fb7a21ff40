using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Agentry.Operations.Backups;

/// <summary>
/// Encrypts backup files with the backup key (<see cref="BackupOptions.EncryptionKey"/>), in the STREAM construction
/// (Hoang, Reyhanitabar, Rogaway and Vizár, 2015) over AES-256-GCM, as Google Tink's streaming AEAD and age use it:
/// <list type="bullet">
/// <item>Header (48 bytes): the magic <c>AGENTRY-BACKUP1\n</c> (16 bytes), a random 32-byte salt.</item>
/// <item>File key: HKDF-SHA256 (RFC 5869) of the backup key with that salt and the info <c>agentry backup v1</c>, 32 bytes;
/// nonce prefix: the next 7 bytes of the same HKDF output.</item>
/// <item>Body: the plaintext in 64 KiB segments, each sealed with AES-256-GCM under the file key, nonce = prefix (7 bytes)
/// ‖ segment number (4 bytes, big-endian, from 0) ‖ 1 for the last segment else 0 (1 byte), the header as associated
/// data; each sealed segment is its ciphertext followed by its 16-byte tag. An empty file is one empty last segment.</item>
/// </list>
/// A segment moved, dropped, repeated or cut, or a header changed, fails to decrypt; so does a wrong key.
/// </summary>
public static class BackupEncryption
{
    public const string Scheme = "aes-256-gcm-stream-v1";
    const int SegmentSize = 64 * 1024;
    const int TagSize = 16;
    static readonly byte[] Magic = "AGENTRY-BACKUP1\n"u8.ToArray();
    static readonly byte[] Info = "agentry backup v1"u8.ToArray();

    /// <summary>A short name for a backup key that reveals nothing of it, recorded in manifests.</summary>
    public static string KeyId(byte[] key) => Convert.ToHexStringLower(SHA256.HashData([.. "agentry-backup-key-id"u8, .. key]))[..16];

    public static async Task EncryptAsync(string source, string target, byte[] key, CancellationToken cancellationToken)
    {
        var salt = RandomNumberGenerator.GetBytes(32);
        var header = Magic.Concat(salt).ToArray();
        var (fileKey, prefix) = Derive(key, salt);
        await using var input = File.OpenRead(source);
        await using var output = OwnerOnlyFile.Create(target);
        await output.WriteAsync(header, cancellationToken);
        using var aes = new AesGcm(fileKey, TagSize);
        var plain = new byte[SegmentSize];
        var next = new byte[SegmentSize];
        var length = await FillAsync(input, plain, cancellationToken);
        for (uint segment = 0; ; segment++)
        {
            // One segment ahead, so the last one is known to be last before it is sealed.
            var nextLength = length == SegmentSize ? await FillAsync(input, next, cancellationToken) : 0;
            var last = nextLength == 0;
            var sealedSegment = new byte[length + TagSize];
            aes.Encrypt(Nonce(prefix, segment, last), plain.AsSpan(0, length), sealedSegment.AsSpan(0, length), sealedSegment.AsSpan(length), header);
            await output.WriteAsync(sealedSegment, cancellationToken);
            if (last) return;
            (plain, next, length) = (next, plain, nextLength);
        }
    }

    public static async Task DecryptAsync(string source, string target, byte[] key, CancellationToken cancellationToken)
    {
        await using var input = File.OpenRead(source);
        var header = new byte[Magic.Length + 32];
        if (await FillAsync(input, header, cancellationToken) != header.Length || !header.AsSpan(0, Magic.Length).SequenceEqual(Magic))
            throw new InvalidOperationException("The file is not an encrypted Agentry backup.");
        var (fileKey, prefix) = Derive(key, header[Magic.Length..]);
        await using var output = OwnerOnlyFile.Create(target);
        using var aes = new AesGcm(fileKey, TagSize);
        var sealedSegment = new byte[SegmentSize + TagSize];
        var next = new byte[SegmentSize + TagSize];
        var length = await FillAsync(input, sealedSegment, cancellationToken);
        for (uint segment = 0; ; segment++)
        {
            if (length < TagSize) throw new InvalidOperationException("The encrypted backup is cut short.");
            var nextLength = length == sealedSegment.Length ? await FillAsync(input, next, cancellationToken) : 0;
            var last = nextLength == 0;
            var plain = new byte[length - TagSize];
            try
            {
                aes.Decrypt(Nonce(prefix, segment, last), sealedSegment.AsSpan(0, plain.Length), sealedSegment.AsSpan(plain.Length, TagSize), plain, header);
            }
            catch (AuthenticationTagMismatchException)
            {
                throw new InvalidOperationException("The backup cannot be decrypted with this backup key, or the file was changed.");
            }
            await output.WriteAsync(plain, cancellationToken);
            if (last) return;
            (sealedSegment, next, length) = (next, sealedSegment, nextLength);
        }
    }

    static (byte[] FileKey, byte[] Prefix) Derive(byte[] key, byte[] salt)
    {
        var material = HKDF.DeriveKey(HashAlgorithmName.SHA256, key, 32 + 7, salt, Info);
        return (material[..32], material[32..]);
    }

    static byte[] Nonce(byte[] prefix, uint segment, bool last)
    {
        var nonce = new byte[12];
        prefix.CopyTo(nonce, 0);
        BinaryPrimitives.WriteUInt32BigEndian(nonce.AsSpan(7, 4), segment);
        nonce[11] = last ? (byte)1 : (byte)0;
        return nonce;
    }

    static async Task<int> FillAsync(Stream stream, byte[] buffer, CancellationToken cancellationToken)
    {
        var read = 0;
        while (read < buffer.Length && await stream.ReadAsync(buffer.AsMemory(read), cancellationToken) is var n and > 0) read += n;
        return read;
    }
}
