namespace PerlSentry.Engine.Sentry.Transport;

/// <summary>Takes envelopes and gets them to their sink in the background. Never throws into the host.</summary>
public interface ITransport : IDisposable
{
    /// <summary>Queues an envelope; returns once it is queued (or dropped and counted), not when it is sent.</summary>
    Task SendEnvelopeAsync(Envelope envelope, CancellationToken cancel = default);

    /// <summary>Queues an envelope already written as bytes (<see cref="DirectEvent"/>); the same contract.</summary>
    void Send(SerializedEnvelope envelope) => SendEnvelopeAsync(Envelope.Parse(envelope.Bytes));

    /// <summary>Waits until everything queued so far has been tried once; false on timeout.</summary>
    Task<bool> FlushAsync(TimeSpan timeout);

    /// <summary>Flushes for at most <paramref name="timeout"/> and stops; what is unsent stays in the cache.</summary>
    Task CloseAsync(TimeSpan timeout);
}
