namespace PerlSentry.Engine.Sentry.Transport;

/// <summary>A bounded in-memory queue (no cache_dir): when full, new envelopes are dropped (<c>queue_overflow</c>).</summary>
public sealed class MemoryEnvelopeQueue(int capacity) : IEnvelopeQueue
{
    private readonly Lock _gate = new();
    private readonly Queue<SerializedEnvelope> _items = new();

    public bool IsPersistent => false;

    public IReadOnlyList<IReadOnlyList<string>> Add(SerializedEnvelope envelope, bool evict = true)
    {
        lock (_gate)
        {
            if (evict && _items.Count >= capacity)
                return [[.. envelope.ItemTypes]];
            _items.Enqueue(envelope);
            return [];
        }
    }

    public QueuedEnvelope? TryClaim(long nowNs)
    {
        lock (_gate)
            return _items.TryDequeue(out var d) ? new QueuedEnvelope(d) : null;
    }

    public void Complete(QueuedEnvelope entry)
    {
    }

    public void Release(QueuedEnvelope entry, long notBeforeNs) =>
        throw new InvalidOperationException("an in-memory queue does not keep failed envelopes");

    public int Count { get { lock (_gate) return _items.Count; } }

    public int DueCount(long nowNs) => Count;

    public void Dispose() { }
}
