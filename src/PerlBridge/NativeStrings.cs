using System.Runtime.InteropServices;
using System.Text;

namespace PerlSentry.PerlBridge;

/// <summary>A NULL-terminated array of NUL-terminated UTF-8 strings in native memory (argv, envp).</summary>
internal sealed unsafe class NativeStrings : IDisposable
{
    public NativeStrings(IReadOnlyList<string> values)
    {
        Pointers = (byte**)NativeMemory.AllocZeroed((nuint)(values.Count + 1), (nuint)sizeof(byte*));
        Count = values.Count;
        for (var i = 0; i < values.Count; i++)
        {
            var bytes = Encoding.UTF8.GetBytes(values[i]);
            var p = (byte*)NativeMemory.Alloc((nuint)bytes.Length + 1);
            bytes.AsSpan().CopyTo(new Span<byte>(p, bytes.Length));   // not CopyTo<byte>(byte[], …): no precompiled code exists for that instantiation
            p[bytes.Length] = 0;
            Pointers[i] = p;
        }
    }

    public byte** Pointers { get; private set; }

    public int Count { get; }

    public void Dispose()
    {
        if (Pointers == null)
            return;
        for (var i = 0; i < Count; i++)
            NativeMemory.Free(Pointers[i]);
        NativeMemory.Free(Pointers);
        Pointers = null;
    }
}
