using PerlSentry.Engine.Sentry;
using PerlSentry.Engine.Sentry.Transport;

namespace PerlSentry.Engine.Agent;

/// <summary>
/// The agent's transports, one per destination (the options that decide where and how envelopes
/// go), shared by every session that sends there: sixteen workers of one app are one queue, one
/// journal and one set of connections, not sixteen, and a session that ends (its process exited)
/// leaves nothing half-sent for another to find. They close when the agent does.
/// </summary>
internal sealed class TransportPool : IDisposable
{
    private sealed record Key(string? Dsn, string? EnvelopeDir, string? Spotlight, string? CacheDir, double HttpTimeout,
        int MaxCacheItems, int MaxQueueItems, bool SendClientReports);

    private readonly Dictionary<Key, (ITransport? Transport, ClientReports Reports)> _pool = [];
    private readonly Action<string> _log;

    public TransportPool(Action<string> log) => _log = log;

    public (ITransport? Transport, ClientReports Reports) Get(SentryOptions o, IClock clock, Action<string>? debug, Action<string> warn)
    {
        var key = new Key(o.Dsn?.ToString(), o.EnvelopeDir, o.Spotlight?.ToString(), o.CacheDir, o.HttpTimeout, o.MaxCacheItems,
            o.MaxQueueItems, o.SendClientReports);
        lock (_pool)
        {
            if (!_pool.TryGetValue(key, out var entry))
            {
                var reports = new ClientReports();
                // The agent's own clock: the transport times sends and rate limits, not the client's calls.
                var transport = TransportFactory.Create(o, SystemClock.Instance, reports, m => _log("transport: " + m), warn);
                entry = (transport is null ? null : new Shared(transport), reports);
                _pool[key] = entry;
            }
            return entry;
        }
    }

    /// <summary>At the agent's exit: everything pooled is flushed (up to the timeout) and closed; what is left stays in the journals.</summary>
    public void CloseAll(TimeSpan timeout)
    {
        List<ITransport> all;
        lock (_pool)
        {
            all = [.. _pool.Values.Select(e => e.Transport).OfType<Shared>().Select(s => s.Inner)];
            _pool.Clear();
        }
        Task.WhenAll(all.Select(t => t.CloseAsync(timeout))).Wait(timeout + TimeSpan.FromSeconds(1));
        foreach (var t in all)
            t.Dispose();
    }

    public void Dispose() => CloseAll(TimeSpan.FromSeconds(2));

    /// <summary>What a session holds: closing it flushes, the transport goes on for the others.</summary>
    private sealed class Shared(ITransport inner) : ITransport
    {
        public ITransport Inner { get; } = inner;

        public Task SendEnvelopeAsync(Envelope envelope, CancellationToken cancel = default) => Inner.SendEnvelopeAsync(envelope, cancel);

        public void Send(SerializedEnvelope envelope) => Inner.Send(envelope);

        public Task<bool> FlushAsync(TimeSpan timeout) => Inner.FlushAsync(timeout);

        public Task CloseAsync(TimeSpan timeout) => Inner.FlushAsync(timeout);

        public void Dispose()
        {
        }
    }
}
