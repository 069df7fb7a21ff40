using System.Collections.Frozen;
using System.Security.Cryptography;
using Microsoft.Net.Http.Headers;

namespace Agentry.WebConsole;

/// <summary>
/// The console's files (HTML, one script module, one stylesheet), compiled into agentry.dll: the console is there
/// wherever the service runs — `dotnet run`, the published folder, the container — with nothing to build or fetch.
/// </summary>
public sealed class ConsoleAssets
{
    public sealed record Asset(byte[] Content, string ContentType, EntityTagHeaderValue ETag);

    const string Prefix = "Agentry.WebConsole.wwwroot.";

    static readonly Dictionary<string, string> ContentTypes = new(StringComparer.Ordinal)
    {
        [".html"] = "text/html; charset=utf-8", [".js"] = "text/javascript; charset=utf-8", [".css"] = "text/css; charset=utf-8",
        [".svg"] = "image/svg+xml", [".png"] = "image/png",
    };

    readonly FrozenDictionary<string, Asset> _assets;

    public ConsoleAssets()
    {
        var assembly = typeof(ConsoleAssets).Assembly;
        _assets = assembly.GetManifestResourceNames().Where(n => n.StartsWith(Prefix, StringComparison.Ordinal)).ToFrozenDictionary(
            n => n[Prefix.Length..],
            n =>
            {
                using var stream = assembly.GetManifestResourceStream(n)!;
                using var buffer = new MemoryStream();
                stream.CopyTo(buffer);
                var bytes = buffer.ToArray();
                return new Asset(bytes, ContentTypes.GetValueOrDefault(Path.GetExtension(n), "application/octet-stream"),
                    new EntityTagHeaderValue($"\"{Convert.ToHexStringLower(SHA256.HashData(bytes))[..16]}\""));
            }, StringComparer.Ordinal);
    }

    public Asset? Find(string name) => _assets.GetValueOrDefault(name);
}
