namespace PerlSentry.Engine.Sentry.Transport;

/// <summary>What a transport did with the envelopes it was given (for debug logs and tests).</summary>
public sealed class TransportStats
{
    private long _queued, _sent, _parked, _rejected;

    /// <summary>Envelopes accepted into the queue.</summary>
    public long Queued => Interlocked.Read(ref _queued);

    /// <summary>Envelopes the sink accepted (2xx).</summary>
    public long Sent => Interlocked.Read(ref _sent);

    /// <summary>Sends that failed transiently and left the envelope in the cache for later.</summary>
    public long Parked => Interlocked.Read(ref _parked);

    /// <summary>Envelopes the server refused (429, 4xx); a 429 is counted by the server, not in client reports.</summary>
    public long Rejected => Interlocked.Read(ref _rejected);

    internal void OnQueued() => Interlocked.Increment(ref _queued);

    internal void OnSent() => Interlocked.Increment(ref _sent);

    internal void OnParked() => Interlocked.Increment(ref _parked);

    internal void OnRejected() => Interlocked.Increment(ref _rejected);

    public override string ToString() => $"queued {Queued}, sent {Sent}, kept for retry {Parked}, refused {Rejected}";
}
