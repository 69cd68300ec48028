namespace PerlSentry.Engine.Sentry.Transport;

/// <summary>An envelope claimed from a queue for sending, and the queue's note of where it is kept.</summary>
public sealed class QueuedEnvelope(SerializedEnvelope envelope, object? place = null)
{
    public SerializedEnvelope Envelope { get; } = envelope;

    internal object? Place { get; } = place;
}
