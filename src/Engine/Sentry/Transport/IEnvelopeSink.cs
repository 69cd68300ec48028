namespace PerlSentry.Engine.Sentry.Transport;

/// <summary>Where serialized envelopes end up: Sentry over HTTP, a folder of files, Spotlight.</summary>
public interface IEnvelopeSink : IDisposable
{
    /// <summary>A name for logs and for the cache folder (the same sink gets the same cache).</summary>
    string Name { get; }

    /// <summary>Delivers one envelope. Never throws: failures come back as a result.</summary>
    Task<SinkResult> SendAsync(byte[] envelope, CancellationToken cancel);
}
