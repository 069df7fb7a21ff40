using System.Runtime.InteropServices;
using Agentry.Models;
using Agentry.Processes;

namespace Agentry.Tests.Models;

/// <summary>Memory the C allocator kept after it was freed goes back to the operating system when the heap is trimmed.</summary>
public sealed class NativeHeapTests
{
    [Fact]
    public unsafe void Freed_native_memory_stays_resident_until_the_heap_is_trimmed()
    {
        const int blocks = 100_000, size = 1024; // small blocks come from the heap, not from separate mappings
        var pointers = new nint[blocks];
        for (var i = 0; i < blocks; i++)
        {
            pointers[i] = (nint)NativeMemory.Alloc(size);
            new Span<byte>((void*)pointers[i], size).Fill(1); // touched: resident
        }
        // Free all but the last block, which keeps the heap's top in use so glibc cannot simply shrink it on free.
        for (var i = 0; i < blocks - 1; i++) NativeMemory.Free((void*)pointers[i]);
        var beforeTrim = ChildProcess.MemoryOf(Environment.ProcessId).Rss;

        Assert.True(NativeHeap.Trim());
        var afterTrim = ChildProcess.MemoryOf(Environment.ProcessId).Rss;
        NativeMemory.Free((void*)pointers[^1]);
        Assert.True(beforeTrim - afterTrim > 50, $"resident {beforeTrim} MB before the trim, {afterTrim} MB after");
    }
}
