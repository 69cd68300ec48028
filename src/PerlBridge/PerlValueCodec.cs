using System.Buffers;

namespace PerlSentry.PerlBridge;

/// <summary>
/// The shim's value format (pb_api.h) for code outside this process's interpreters: the agent reads
/// a client's values with it, and writes values back. References cross as numbers the two sides
/// agree on (the client's tokens for its code references).
/// </summary>
public static class PerlValueCodec
{
    /// <summary>Reads <paramref name="count"/> values; returns them and how many bytes they took.</summary>
    public static (object?[] Values, int Length) Read(ReadOnlySpan<byte> data, int count, Func<long, PerlRefKind, string?, object?> makeRef)
    {
        var reader = new PbReader(data, makeRef);
        var values = new object?[count];
        for (var i = 0; i < count; i++)
            values[i] = reader.Value();
        return (values, reader.Position);
    }

    /// <summary>Appends values; a reference is written as the number <paramref name="token"/> gives it.</summary>
    public static void Write(ArrayBufferWriter<byte> into, IEnumerable<object?> values, Func<IPerlRef, long> token)
    {
        var w = new PbWriter(into, token);
        foreach (var v in values)
            w.Value(v);
    }
}
