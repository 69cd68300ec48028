namespace PerlSentry.PerlBridge;

/// <summary>The bridge itself failed: libperl or the shim could not be loaded, or a call was misused.</summary>
public sealed class PerlBridgeException : Exception
{
    public PerlBridgeException(string message) : base(message) { }

    public PerlBridgeException(string message, Exception inner) : base(message, inner) { }
}
