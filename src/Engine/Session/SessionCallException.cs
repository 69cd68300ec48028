namespace PerlSentry.Engine.Session;

/// <summary>A session call the client got wrong (a bad handle, a bad value): the Perl caller dies with this message.</summary>
public sealed class SessionCallException(string message) : Exception(message);
