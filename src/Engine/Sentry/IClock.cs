namespace PerlSentry.Engine.Sentry;

/// <summary>Wall-clock time for events, spans and profiles (injected so tests can pin it).</summary>
public interface IClock
{
    /// <summary>Nanoseconds since the Unix epoch.</summary>
    long UnixNs { get; }
}
