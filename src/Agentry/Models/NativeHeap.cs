using System.Runtime.InteropServices;

namespace Agentry.Models;

/// <summary>
/// Hands the C allocator's free memory back to the operating system. Loading the embedding model makes ONNX Runtime
/// allocate and free copies of the model natively (hundreds of MB at the peak); glibc keeps freed blocks of its heap for
/// reuse, so without this the peak stayed resident for the life of the process (docs/performance.md).
/// </summary>
public static partial class NativeHeap
{
    [DllImport("libc", EntryPoint = "malloc_trim")]
#pragma warning disable SYSLIB1054 // a plain blittable call: no marshalling for a source generator to write
    static extern int MallocTrim(nuint pad);
#pragma warning restore SYSLIB1054

    /// <summary>Returns whether memory was released; false where the C library is not glibc (nothing to do there).</summary>
    public static bool Trim()
    {
        if (!OperatingSystem.IsLinux()) return false;
        try
        {
            return MallocTrim(0) == 1;
        }
        catch (EntryPointNotFoundException)
        {
            return false; // musl (Alpine) has no malloc_trim
        }
    }
}
