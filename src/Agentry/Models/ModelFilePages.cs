using System.Globalization;
using System.Reflection;
using System.Reflection.PortableExecutable;
using System.Runtime.InteropServices;

namespace Agentry.Models;

/// <summary>
/// The MiniLM weights ship as a managed resource inside the package's DLL, which the runtime maps from disk; reading
/// them once to build the ONNX Runtime session leaves about 87 MB of those file pages resident for the life of the
/// process, though nothing reads them again. They are clean pages of a read-only file mapping, so telling the kernel
/// they are not needed (<c>madvise(MADV_DONTNEED)</c>) only drops them from memory: were they read again, they would
/// come back from the file unchanged. Only pages of a read-only mapping of the assembly's own file are released.
/// </summary>
public static partial class ModelFilePages
{
    const int DontNeed = 4; // MADV_DONTNEED on Linux

    [DllImport("libc", SetLastError = true)]
#pragma warning disable SYSLIB1054 // a plain blittable call: no marshalling for a source generator to write
    static extern int madvise(nint address, nuint length, int advice);
#pragma warning restore SYSLIB1054

    /// <summary>Releases the resident file pages of <paramref name="assembly"/>'s managed resources; returns the bytes released.</summary>
    public static long Release(Assembly assembly)
    {
        if (!OperatingSystem.IsLinux() || string.IsNullOrEmpty(assembly.Location)) return 0;
        var (offset, size) = ResourcesInFile(assembly.Location);
        if (size == 0) return 0;
        long released = 0;
        var page = Environment.SystemPageSize;
        foreach (var line in File.ReadLines("/proc/self/maps"))
        {
            // start-end perms offset dev inode path
            var fields = line.Split(' ', 6, StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length < 6 || fields[5].Trim() != assembly.Location || fields[1].Contains('w', StringComparison.Ordinal)) continue;
            var range = fields[0].Split('-');
            var start = long.Parse(range[0], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            var end = long.Parse(range[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            var mappedFrom = long.Parse(fields[2], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            // The part of the resources this mapping holds, as addresses, rounded inwards to whole pages.
            var from = Math.Max(offset, mappedFrom);
            var to = Math.Min(offset + size, mappedFrom + (end - start));
            if (to <= from) continue;
            var first = (start + (from - mappedFrom) + page - 1) / page * page;
            var last = (start + (to - mappedFrom)) / page * page;
            if (last > first && madvise((nint)first, (nuint)(last - first), DontNeed) == 0) released += last - first;
        }
        return released;
    }

    static (long Offset, long Size) ResourcesInFile(string path)
    {
        using var file = File.OpenRead(path);
        using var pe = new PEReader(file);
        var resources = pe.PEHeaders.CorHeader?.ResourcesDirectory;
        return resources is { Size: > 0 } directory && pe.PEHeaders.TryGetDirectoryOffset(directory, out var offset) ? (offset, directory.Size) : (0, 0);
    }
}
