namespace PerlSentry.Engine.Sentry.Transport;

/// <summary>
/// Writes each envelope to its own file (<c>NNNNNN-&lt;time&gt;.envelope</c>) in a folder: the sink with
/// no Sentry account, which <c>perl-sentry profile</c> uses.
/// </summary>
public sealed class FolderSink(string directory) : IEnvelopeSink
{
    private static int _sinks;
    private readonly int _id = Interlocked.Increment(ref _sinks);
    private int _count;

    public string Name => "folder:" + Path.GetFullPath(Directory);

    public string Directory { get; } = directory;

    public SinkResult Send(byte[] envelope)
    {
        try
        {
            PrivateFiles.EnsureDirectory(Directory);
            var n = Interlocked.Increment(ref _count);
            // The sink's own id in the name: several transports (a pool of interpreters, the agent's
            // sessions) may write one folder.
            var name = $"{DateTime.UtcNow:yyyyMMdd'T'HHmmss'.'fff}-{Environment.ProcessId}-{_id}-{n:D6}.envelope";
            PrivateFiles.WriteAtomically(Path.Combine(Directory, name), envelope);
            return SinkResult.Delivered;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A local write error is not transient the way a network one is: report it as a send error.
            return SinkResult.LocalFailure($"cannot write to {Directory}: {e.Message}");
        }
    }

    public void Dispose()
    {
    }
}
