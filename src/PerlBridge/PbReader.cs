using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using PerlSentry.PerlBridge.Native;

namespace PerlSentry.PerlBridge;

/// <summary>Reads values in the shim's wire format (pb_api.h).</summary>
/// <remarks>
/// A perl string without the UTF-8 flag crosses as bytes. Perl code mostly keeps
/// UTF-8 encoded text in such strings, so bytes that are valid UTF-8 decode as UTF-8;
/// anything else decodes as Latin-1, which is what those bytes mean to perl itself.
/// </remarks>
internal unsafe ref struct PbReader
{
    private readonly ReadOnlySpan<byte> _data;
    private readonly PerlInterpreter? _owner;
    private readonly Func<long, PerlRefKind, string?, object?>? _makeRef;
    private int _pos;

    /// <summary>Values of an interpreter in this process: references become <see cref="PerlRef"/>s it owns.</summary>
    public PbReader(ReadOnlySpan<byte> data, PerlInterpreter owner)
    {
        _data = data;
        _owner = owner;
    }

    /// <summary>Values of another process: references become what <paramref name="makeRef"/> makes of them.</summary>
    public PbReader(ReadOnlySpan<byte> data, Func<long, PerlRefKind, string?, object?> makeRef)
    {
        _data = data;
        _makeRef = makeRef;
    }

    /// <summary>How far it has read.</summary>
    public readonly int Position => _pos;

    public readonly bool AtEnd => _pos >= _data.Length;

    private byte Tag() => _pos < _data.Length ? _data[_pos++] : throw Malformed();

    private ReadOnlySpan<byte> Take(int n)
    {
        if (n < 0 || _pos + n > _data.Length)
            throw Malformed();
        var s = _data.Slice(_pos, n);
        _pos += n;
        return s;
    }

    private static PerlBridgeException Malformed() => new("malformed value buffer");

    public object? Value()
    {
        var tag = Tag();
        switch (tag)
        {
            case PerlNative.PB_T_UNDEF: return null;
            case PerlNative.PB_T_BOOL: return Take(1)[0] != 0;
            case PerlNative.PB_T_IV: return BinaryPrimitives.ReadInt64LittleEndian(Take(8));
            case PerlNative.PB_T_UV:
                var u = BinaryPrimitives.ReadUInt64LittleEndian(Take(8));
                return u <= long.MaxValue ? (object)(long)u : u;
            case PerlNative.PB_T_NV: return BinaryPrimitives.ReadDoubleLittleEndian(Take(8));
            case PerlNative.PB_T_STR: return Encoding.UTF8.GetString(Take(Length()));
            case PerlNative.PB_T_BYTES: return PerlText.FromBytes(Take(Length()));
            case PerlNative.PB_T_ARRAY:
            {
                var n = Length();
                var list = new List<object?>(Math.Min(n, 1024));
                for (var i = 0; i < n; i++)
                    list.Add(Value());
                return list;
            }
            case PerlNative.PB_T_HASH:
            {
                var n = Length();
                var dict = new Dictionary<string, object?>(Math.Min(n, 1024), StringComparer.Ordinal);
                for (var i = 0; i < n; i++)
                {
                    var key = Value() as string ?? "";
                    dict[key] = Value();
                }
                return dict;
            }
            case PerlNative.PB_T_REF:
            {
                var handle = BinaryPrimitives.ReadInt64LittleEndian(Take(8));
                var kind = (PerlRefKind)Take(1)[0];
                var cls = Encoding.UTF8.GetString(Take(Length()));
                return _owner is not null
                    ? new PerlRef(_owner, (nint)handle, kind, cls.Length == 0 ? null : cls)
                    : _makeRef!(handle, kind, cls.Length == 0 ? null : cls);
            }
            default:
                throw Malformed();
        }
    }

    private int Length() => checked((int)BinaryPrimitives.ReadUInt32LittleEndian(Take(4)));

    public long Int64()
    {
        if (_pos < _data.Length && _data[_pos] == PerlNative.PB_T_IV)
        {
            _pos++;
            return BinaryPrimitives.ReadInt64LittleEndian(Take(8));
        }
        return SlowInt64();
    }

    private long SlowInt64() => Value() switch
    {
        null => 0,
        long l => l,
        ulong u => unchecked((long)u),
        double d => (long)d,
        bool b => b ? 1 : 0,
        string s => long.TryParse(s.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var l) ? l
            : double.TryParse(s.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var d) ? (long)d : 0,
        _ => throw new InvalidCastException("a Perl reference is not a number"),
    };

    public double Double() => Value() switch
    {
        null => 0,
        long l => l,
        ulong u => u,
        double d => d,
        bool b => b ? 1 : 0,
        string s => double.TryParse(s.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var d) ? d : 0,
        _ => throw new InvalidCastException("a Perl reference is not a number"),
    };

    /// <summary>
    /// The next value as perl's bytes, without decoding: a byte string as it is, a character string
    /// as its UTF-8, anything else as its string form in UTF-8; undef is empty.
    /// </summary>
    public ReadOnlySpan<byte> Bytes()
    {
        if (_pos < _data.Length && _data[_pos] is PerlNative.PB_T_STR or PerlNative.PB_T_BYTES)
        {
            _pos++;
            return Take(Length());
        }
        return String() is { } s ? Encoding.UTF8.GetBytes(s) : [];
    }

    public string? String() => Value() switch
    {
        null => null,
        string s => s,
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        bool b => b ? "1" : "",
        PerlRef r => r.ToString(),
        var o => Convert.ToString(o, CultureInfo.InvariantCulture),
    };
}
