using PerlSentry.Engine.Sentry;
using PerlSentry.Engine.Sentry.Transport;

namespace PerlSentry.Engine.Tests.Session;

/// <summary>Keeps what a session sends, for assertions (unit tests only; end-to-end tests use a real server).</summary>
internal sealed class RecordingTransport : ITransport
{
    public List<Envelope> Sent { get; } = [];

    public IEnumerable<EnvelopeItem> Items(string type) => Sent.SelectMany(e => e.Items).Where(i => i.Type == type);

    public Task SendEnvelopeAsync(Envelope envelope, CancellationToken cancel = default)
    {
        lock (Sent) Sent.Add(envelope);
        return Task.CompletedTask;
    }

    public Task<bool> FlushAsync(TimeSpan timeout) => Task.FromResult(true);

    public Task CloseAsync(TimeSpan timeout) => Task.CompletedTask;

    public void Dispose() { }
}
