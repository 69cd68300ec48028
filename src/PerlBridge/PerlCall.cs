using PerlSentry.PerlBridge.Native;

namespace PerlSentry.PerlBridge;

/// <summary>One call of a C# sub from Perl: read the arguments in order, push the results.</summary>
/// <remarks>Valid only during the call; it reads the shim's buffers without copying.</remarks>
public unsafe ref struct PerlCall
{
    private PbReader _args;
    private readonly pb_buf* _ret;

    internal PerlCall(PerlInterpreter interpreter, PerlContext context, ReadOnlySpan<byte> args, int count, pb_buf* ret)
    {
        Interpreter = interpreter;
        Context = context;
        ArgumentCount = count;
        _args = new PbReader(args, interpreter);
        _ret = ret;
    }

    public PerlInterpreter Interpreter { get; }

    /// <summary>What the caller wants (Perl's <c>wantarray</c>).</summary>
    public PerlContext Context { get; }

    public int ArgumentCount { get; }

    internal int ReturnCount { get; private set; }

    public readonly bool HasMoreArguments => !_args.AtEnd;

    public object? NextArgument() => _args.Value();

    public long NextInt64() => _args.Int64();

    public double NextDouble() => _args.Double();

    public string? NextString() => _args.String();

    /// <summary>The next argument as perl's bytes (a character string as UTF-8), valid only during the call.</summary>
    public ReadOnlySpan<byte> NextBytes() => _args.Bytes();

    /// <summary>All remaining arguments.</summary>
    public object?[] RemainingArguments()
    {
        if (_args.Position == 0 && ArgumentCount > 0)
        {
            // All of them (the usual case): their count is known, one array of that size.
            var all = new object?[ArgumentCount];
            var n = 0;
            while (n < all.Length && !_args.AtEnd)
                all[n++] = _args.Value();
            if (n == all.Length && _args.AtEnd)
                return all;
            return [.. all.AsSpan(0, n), .. Rest()];   // the count and the values disagree: all the values, as before
        }
        return Rest();
    }

    private object?[] Rest()
    {
        var list = new List<object?>();
        while (!_args.AtEnd)
            list.Add(_args.Value());
        return [.. list];
    }

    public void Return(long value)
    {
        new PbWriter(_ret).Int64(value);
        ReturnCount++;
    }

    public void Return(double value)
    {
        new PbWriter(_ret).Double(value);
        ReturnCount++;
    }

    public void Return(string? value)
    {
        var w = new PbWriter(_ret);
        if (value is null) w.Undef(); else w.String(value);
        ReturnCount++;
    }

    public void Return(object? value)
    {
        new PbWriter(_ret).Value(value);
        ReturnCount++;
    }
}
