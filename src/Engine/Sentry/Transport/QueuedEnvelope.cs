namespace PerlSentry.Engine.Sentry.Transport;

/// <summary>An envelope waiting to be sent (serialized without <c>sent_at</c>), and where it is kept.</summary>
public sealed class QueuedEnvelope(byte[] data, string? path = null)
{
    public byte[] Data { get; } = data;

    /// <summary>The claimed cache file, for the disk queue.</summary>
    internal string? Path { get; set; } = path;

    /// <summary>The file name the envelope has in the cache when not claimed.</summary>
    internal string? FileName { get; init; }
}
