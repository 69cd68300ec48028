using System.Buffers.Binary;

namespace PerlSentry.PerlBridge;

/// <summary>
/// One sample of an interpreter's stack, innermost frame first.
/// <see cref="Weight"/> is the number of sampler ticks it stands for (a blocked or busy stack
/// is sampled once when it reaches a safe point); <see cref="MonotonicNs"/> is the first of them.
/// A marker (<see cref="IsMarker"/>) was taken inside an SDK call: its innermost frames are the SDK's.
/// </summary>
public sealed record PerlSample(long MonotonicNs, int Weight, bool Truncated, PerlFrame[] Frames, bool IsMarker = false)
{
    /// <summary>Parses the shim's drained records (layout in pb_sample.h). Throws <see cref="FormatException"/> on malformed records.</summary>
    public static void Parse(ReadOnlySpan<byte> data, List<PerlSample> into)
    {
        try
        {
            ParseRecords(data, into);
        }
        catch (Exception e) when (e is ArgumentOutOfRangeException or IndexOutOfRangeException)
        {
            throw new FormatException("malformed sample records");
        }
    }

    private static void ParseRecords(ReadOnlySpan<byte> data, List<PerlSample> into)
    {
        var pos = 0;
        while (pos + 16 <= data.Length)
        {
            var time = BinaryPrimitives.ReadInt64LittleEndian(data[pos..]);
            var weight = BinaryPrimitives.ReadInt32LittleEndian(data[(pos + 8)..]);
            int count = BinaryPrimitives.ReadUInt16LittleEndian(data[(pos + 12)..]);
            var flags = BinaryPrimitives.ReadUInt16LittleEndian(data[(pos + 14)..]);
            pos += 16;
            var frames = new PerlFrame[count];
            for (var i = 0; i < count; i++)
            {
                var name = Str(data, ref pos);
                var file = Str(data, ref pos);
                var line = BinaryPrimitives.ReadInt32LittleEndian(data[pos..]);
                pos += 4;
                frames[i] = new PerlFrame(name, file, line);
            }
            into.Add(new PerlSample(time, weight, (flags & 1) != 0, frames, (flags & 2) != 0));
        }
    }

    private static string Str(ReadOnlySpan<byte> data, ref int pos)
    {
        int n = BinaryPrimitives.ReadUInt16LittleEndian(data[pos..]);
        var s = PerlText.FromBytes(data.Slice(pos + 2, n));
        pos += 2 + n;
        return s;
    }
}
