using System.Security.Cryptography;
using System.Text;
using System.Xml.Linq;
using Microsoft.AspNetCore.DataProtection.XmlEncryption;

namespace Agentry.Security;

/// <summary>
/// Encrypts each Data Protection key with the secrets key (<see cref="SecretsKey"/>) before it is stored: AES-256-GCM,
/// a random 96-bit nonce per key, the element's XML as plaintext and a fixed label as associated data. The stored
/// element names the secrets key by its <see cref="SecretsKey.Id"/>, so a wrong key is reported as such, never as
/// corrupt data.
/// </summary>
public sealed class SecretsKeyXmlEncryptor(SecretsKey key) : IXmlEncryptor
{
    public const string ElementName = "agentrySecretsKeyEncrypted";
    internal static readonly byte[] Label = "agentry data-protection key ring v1"u8.ToArray();

    public EncryptedXmlInfo Encrypt(XElement plaintextElement)
    {
        var plaintext = Encoding.UTF8.GetBytes(plaintextElement.ToString(SaveOptions.DisableFormatting));
        var nonce = RandomNumberGenerator.GetBytes(AesGcm.NonceByteSizes.MaxSize);
        var ciphertext = new byte[plaintext.Length];
        var tag = new byte[AesGcm.TagByteSizes.MaxSize];
        using (var aes = new AesGcm(key.Bytes, tag.Length)) aes.Encrypt(nonce, plaintext, ciphertext, tag, Label);
        var element = new XElement(ElementName,
            new XAttribute("keyId", key.Id), new XAttribute("algorithm", "AES-256-GCM"),
            new XAttribute("nonce", Convert.ToBase64String(nonce)), new XAttribute("tag", Convert.ToBase64String(tag)),
            Convert.ToBase64String(ciphertext));
        return new EncryptedXmlInfo(element, typeof(SecretsKeyXmlDecryptor));
    }
}

/// <summary>Decrypts what <see cref="SecretsKeyXmlEncryptor"/> stored; Data Protection creates it by type name with the service provider.</summary>
public sealed class SecretsKeyXmlDecryptor(IServiceProvider services) : IXmlDecryptor
{
    public XElement Decrypt(XElement encryptedElement)
    {
        var key = services.GetRequiredService<SecretsKey>();
        var keyId = (string?)encryptedElement.Attribute("keyId");
        if (keyId != key.Id)
            throw new CryptographicException($"This key of the secrets key ring was encrypted with secrets key {keyId}; this instance has {key.Id} (from {key.Source}).");
        var nonce = Convert.FromBase64String((string)encryptedElement.Attribute("nonce")!);
        var tag = Convert.FromBase64String((string)encryptedElement.Attribute("tag")!);
        var ciphertext = Convert.FromBase64String(encryptedElement.Value);
        var plaintext = new byte[ciphertext.Length];
        using (var aes = new AesGcm(key.Bytes, tag.Length)) aes.Decrypt(nonce, ciphertext, tag, plaintext, SecretsKeyXmlEncryptor.Label);
        return XElement.Parse(Encoding.UTF8.GetString(plaintext));
    }
}
