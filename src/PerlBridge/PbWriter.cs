using System.Buffers.Binary;
using System.Collections;
using System.Text;
using PerlSentry.PerlBridge.Native;

namespace PerlSentry.PerlBridge;

/// <summary>Appends values in the shim's wire format (pb_api.h) to a native buffer or a managed one.</summary>
internal readonly unsafe ref struct PbWriter
{
    private const int MaxDepth = 64;
    private readonly pb_buf* _buf;
    private readonly System.Buffers.ArrayBufferWriter<byte>? _managed;
    private readonly Func<IPerlRef, long>? _token;

    public PbWriter(pb_buf* buf)
    {
        _buf = buf;
    }

    /// <summary>A writer into managed memory (the agent's frames); references cross as <paramref name="token"/> says.</summary>
    public PbWriter(System.Buffers.ArrayBufferWriter<byte> managed, Func<IPerlRef, long>? token = null)
    {
        _managed = managed;
        _token = token;
    }

    private Span<byte> Grow(int n)
    {
        if (_managed is not null)
        {
            var m = _managed.GetSpan(n)[..n];
            _managed.Advance(n);
            return m;
        }
        if (_buf->len + (nuint)n > _buf->cap)
            NativeCalls.BufReserve(_buf, (nuint)n);   // never inlined: see NativeCalls
        var span = new Span<byte>(_buf->data + _buf->len, n);
        _buf->len += (nuint)n;
        return span;
    }

    public void Undef() => Grow(1)[0] = PerlNative.PB_T_UNDEF;

    public void Int64(long v)
    {
        var s = Grow(9);
        s[0] = PerlNative.PB_T_IV;
        BinaryPrimitives.WriteInt64LittleEndian(s[1..], v);
    }

    public void UInt64(ulong v)
    {
        var s = Grow(9);
        s[0] = PerlNative.PB_T_UV;
        BinaryPrimitives.WriteUInt64LittleEndian(s[1..], v);
    }

    public void Double(double v)
    {
        var s = Grow(9);
        s[0] = PerlNative.PB_T_NV;
        BinaryPrimitives.WriteDoubleLittleEndian(s[1..], v);
    }

    public void Bool(bool v)
    {
        var s = Grow(2);
        s[0] = PerlNative.PB_T_BOOL;
        s[1] = v ? (byte)1 : (byte)0;
    }

    /// <summary>A character string: ASCII crosses as plain bytes, anything else as UTF-8 flagged.</summary>
    public void String(ReadOnlySpan<char> v)
    {
        var n = Encoding.UTF8.GetByteCount(v);
        var s = Grow(5 + n);
        s[0] = n == v.Length ? PerlNative.PB_T_BYTES : PerlNative.PB_T_STR;
        BinaryPrimitives.WriteUInt32LittleEndian(s[1..], (uint)n);
        Encoding.UTF8.GetBytes(v, s[5..]);
    }

    public void Bytes(ReadOnlySpan<byte> v)
    {
        var s = Grow(5 + v.Length);
        s[0] = PerlNative.PB_T_BYTES;
        BinaryPrimitives.WriteUInt32LittleEndian(s[1..], (uint)v.Length);
        v.CopyTo(s[5..]);
    }

    public void Ref(IPerlRef r)
    {
        var s = Grow(14);
        s[0] = PerlNative.PB_T_REF;
        BinaryPrimitives.WriteInt64LittleEndian(s[1..], r is PerlRef p && _token is null ? p.Handle : _token?.Invoke(r) ?? 0);
        s[9] = (byte)r.Kind;
        BinaryPrimitives.WriteUInt32LittleEndian(s[10..], 0);
    }

    public void Value(object? v) => Value(v, 0);

    private void Value(object? v, int depth)
    {
        if (depth > MaxDepth)
            throw new ArgumentException("value nests deeper than 64 levels (a cycle?)");
        switch (v)
        {
            case null: Undef(); break;
            case string s: String(s); break;
            case bool b: Bool(b); break;
            case int i: Int64(i); break;
            case long l: Int64(l); break;
            case double d: Double(d); break;
            case IPerlRef r: Ref(r); break;
            case byte[] bytes: Bytes(bytes); break;
            case ulong u: UInt64(u); break;
            case uint u: Int64(u); break;
            case short or ushort or sbyte or byte: Int64(Convert.ToInt64(v, System.Globalization.CultureInfo.InvariantCulture)); break;
            case float f: Double(f); break;
            case decimal m: Double((double)m); break;
            case char c: String([c]); break;
            case Enum e: Int64(Convert.ToInt64(e, System.Globalization.CultureInfo.InvariantCulture)); break;
            case IDictionary dict: Hash(dict, depth); break;
            case IEnumerable list: Array(list, depth); break;
            default: String(Convert.ToString(v, System.Globalization.CultureInfo.InvariantCulture) ?? ""); break;
        }
    }

    private void Hash(IDictionary dict, int depth)
    {
        var s = Grow(5);
        s[0] = PerlNative.PB_T_HASH;
        BinaryPrimitives.WriteUInt32LittleEndian(s[1..], (uint)dict.Count);
        foreach (DictionaryEntry e in dict)
        {
            String(Convert.ToString(e.Key, System.Globalization.CultureInfo.InvariantCulture) ?? "");
            Value(e.Value, depth + 1);
        }
    }

    private void Array(IEnumerable list, int depth)
    {
        var items = list as ICollection ?? list.Cast<object?>().ToList();
        var s = Grow(5);
        s[0] = PerlNative.PB_T_ARRAY;
        BinaryPrimitives.WriteUInt32LittleEndian(s[1..], (uint)items.Count);
        foreach (var e in items)
            Value(e, depth + 1);
    }
}
