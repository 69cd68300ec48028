namespace PerlSentry.PerlBridge;

/// <summary>
/// A reference that stays in a Perl interpreter: one in this process (<see cref="PerlRef"/>), or one in
/// a client process on the other side of the agent's socket. What the engine may do with it: look at
/// its kind and class, call it when it is code, read it when it is a plain scalar reference.
/// </summary>
public interface IPerlRef
{
    PerlRefKind Kind { get; }

    /// <summary>The package the referent is blessed into, or null.</summary>
    string? ClassName { get; }

    /// <summary>Calls the code reference in scalar context and returns its value.</summary>
    object? Call(params object?[] args);

    /// <summary>The value a scalar reference points at (<c>${$ref}</c>).</summary>
    object? Deref();
}
