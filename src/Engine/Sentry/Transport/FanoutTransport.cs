namespace PerlSentry.Engine.Sentry.Transport;

/// <summary>Several transports as one: Sentry and Spotlight, or Sentry and an envelope folder.</summary>
public sealed class FanoutTransport(IReadOnlyList<ITransport> transports) : ITransport
{
    public IReadOnlyList<ITransport> Transports { get; } = transports;

    public Task SendEnvelopeAsync(Envelope envelope, CancellationToken cancel = default) =>
        Task.WhenAll(Transports.Select(t => t.SendEnvelopeAsync(envelope, cancel)));

    public void Send(SerializedEnvelope envelope)
    {
        foreach (var t in Transports)
            t.Send(envelope);   // bytes are never changed: one copy serves every sink
    }

    public async Task<bool> FlushAsync(TimeSpan timeout) =>
        (await Task.WhenAll(Transports.Select(t => t.FlushAsync(timeout))).ConfigureAwait(false)).All(ok => ok);

    public Task CloseAsync(TimeSpan timeout) => Task.WhenAll(Transports.Select(t => t.CloseAsync(timeout)));

    public void Dispose()
    {
        foreach (var t in Transports)
            t.Dispose();
    }
}
