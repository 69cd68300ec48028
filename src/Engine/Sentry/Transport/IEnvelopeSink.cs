namespace PerlSentry.Engine.Sentry.Transport;

/// <summary>Where serialized envelopes end up: Sentry over HTTP, a folder of files, Spotlight.</summary>
public interface IEnvelopeSink : IDisposable
{
    /// <summary>A name for logs and for the cache folder (the same sink gets the same cache).</summary>
    string Name { get; }

    /// <summary>
    /// Delivers one envelope on the calling thread (a sender thread of the transport), blocking until it
    /// is delivered or has failed. Never throws: failures come back as a result. <see cref="IDisposable.Dispose"/>
    /// ends a send in progress.
    /// </summary>
    SinkResult Send(byte[] envelope);
}
