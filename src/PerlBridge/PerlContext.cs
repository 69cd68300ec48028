namespace PerlSentry.PerlBridge;

/// <summary>The context a sub is called in (Perl's <c>wantarray</c>).</summary>
public enum PerlContext
{
    Void = 0,
    Scalar = 1,
    List = 2,
}
