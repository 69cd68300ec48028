using PerlSentry.PerlBridge;

namespace PerlSentry.Engine.Tests.Session;

/// <summary>A Perl code reference as the session sees one, run by a C# lambda.</summary>
internal sealed class FakeCode(Func<object?[], object?> body) : IPerlRef
{
    public PerlRefKind Kind => PerlRefKind.Code;

    public string? ClassName => null;

    public int Calls { get; private set; }

    public object? Call(params object?[] args)
    {
        Calls++;
        return body(args);
    }

    public object? Deref() => throw new InvalidOperationException("not a scalar reference");
}
