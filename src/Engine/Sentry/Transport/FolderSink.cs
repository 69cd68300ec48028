namespace PerlSentry.Engine.Sentry.Transport;

/// <summary>
/// Writes each envelope to its own file (<c>NNNNNN-&lt;time&gt;.envelope</c>) in a folder: the sink with
/// no Sentry account, which <c>perl-sentry profile</c> uses.
/// </summary>
public sealed class FolderSink(string directory) : IEnvelopeSink
{
    private int _count;

    public string Name => "folder:" + Path.GetFullPath(Directory);

    public string Directory { get; } = directory;

    public async Task<SinkResult> SendAsync(byte[] envelope, CancellationToken cancel)
    {
        try
        {
            System.IO.Directory.CreateDirectory(Directory);
            var n = Interlocked.Increment(ref _count);
            var name = $"{DateTime.UtcNow:yyyyMMdd'T'HHmmss'.'fff}-{Environment.ProcessId}-{n:D6}.envelope";
            var tmp = Path.Combine(Directory, "." + name + ".tmp");
            await File.WriteAllBytesAsync(tmp, envelope, cancel).ConfigureAwait(false);
            File.Move(tmp, Path.Combine(Directory, name));
            return SinkResult.Delivered;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A local write error is not transient the way a network one is: report it as a send error.
            return new SinkResult(400, Error: $"cannot write to {Directory}: {e.Message}");
        }
    }

    public void Dispose()
    {
    }
}
