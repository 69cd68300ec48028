namespace PerlSentry.PerlBridge;

/// <summary>
/// A reference to a Perl value that stays in Perl: an object, a code ref, a glob, a scalar ref.
/// Holds one Perl reference count; <see cref="Dispose"/> gives it back on the interpreter's thread
/// (a finalizer only queues the release, it never touches Perl).
/// </summary>
public sealed class PerlRef : IPerlRef, IDisposable
{
    private nint _handle;

    internal PerlRef(PerlInterpreter owner, nint handle, PerlRefKind kind, string? className)
    {
        Interpreter = owner;
        _handle = handle;
        Kind = kind;
        ClassName = className;
    }

    ~PerlRef()
    {
        var h = Interlocked.Exchange(ref _handle, 0);
        if (h != 0)
            Interpreter.QueueRelease(h);
    }

    public PerlInterpreter Interpreter { get; }

    public PerlRefKind Kind { get; }

    /// <summary>The package the referent is blessed into, or null.</summary>
    public string? ClassName { get; }

    internal nint Handle => _handle != 0 ? _handle : throw new ObjectDisposedException(nameof(PerlRef));

    /// <summary>Calls the code reference in scalar context.</summary>
    public object? Call(params object?[] args) => Interpreter.CallRef(this, PerlContext.Scalar, args) switch
    {
        [var v] => v,
        _ => null,
    };

    /// <summary>The value a scalar reference points at (<c>${$ref}</c>).</summary>
    public object? Deref() => Interpreter.DerefScalar(this);

    /// <summary>Calls the code reference in list context.</summary>
    public object?[] CallList(params object?[] args) => Interpreter.CallRef(this, PerlContext.List, args);

    public void Dispose()
    {
        var h = Interlocked.Exchange(ref _handle, 0);
        if (h != 0)
            Interpreter.Release(h);
        GC.SuppressFinalize(this);
    }

    public override string ToString() => $"{ClassName ?? Kind.ToString().ToUpperInvariant()}(0x{_handle:x})";
}
