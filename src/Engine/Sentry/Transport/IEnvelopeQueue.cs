namespace PerlSentry.Engine.Sentry.Transport;

/// <summary>The transport's backlog: in memory, or a journal on disk that survives the process.</summary>
public interface IEnvelopeQueue : IDisposable
{
    /// <summary>Whether envelopes survive a failed send, a crash or a restart.</summary>
    bool IsPersistent { get; }

    /// <summary>
    /// Adds an envelope (before the capture call returns); returns the item types of what had to go to
    /// make room (the new one, or the oldest kept). Throws <see cref="IOException"/> when it cannot keep it.
    /// <paramref name="evict"/> false: room is not made (a client report must not push out an event).
    /// </summary>
    IReadOnlyList<IReadOnlyList<string>> Add(SerializedEnvelope envelope, bool evict = true);

    /// <summary>The next envelope due, claimed for sending, or null.</summary>
    QueuedEnvelope? TryClaim(long nowNs);

    /// <summary>Sent or dropped for good.</summary>
    void Complete(QueuedEnvelope entry);

    /// <summary>Not sent now; keep it and offer it again from <paramref name="notBeforeNs"/> (persistent queues only).</summary>
    void Release(QueuedEnvelope entry, long notBeforeNs);

    /// <summary>Envelopes waiting, claimed ones excluded.</summary>
    int Count { get; }

    /// <summary>Envelopes due now (not parked after a failure).</summary>
    int DueCount(long nowNs);
}
