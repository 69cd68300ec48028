using System.Net;
using System.Net.Sockets;
using System.Text;

namespace PerlSentry.Bench;

/// <summary>
/// A Sentry stand-in on 127.0.0.1 for the benchmarks: reads each HTTP/1.1 request (keep-alive) and
/// answers 200 (or nothing at all, when told to hang), counting envelopes and the client reports' drops.
/// </summary>
internal sealed class Receiver : IDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private long _envelopes;
    private long _dropped;

    public Receiver()
    {
        _listener.Start();
        _ = Task.Run(AcceptLoop);
    }

    public string Dsn => $"http://benchkey@127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}/1";

    public bool Hang { get; set; }

    /// <summary>
    /// Whether bodies are read (gzipped ones unpacked) to count client reports' drops (<see cref="Dropped"/>).
    /// Off by default: the stand-in shares the machine's cores with what is measured, and a real
    /// Sentry does this work elsewhere.
    /// </summary>
    public bool CountReports { get; init; }

    public long Envelopes => Interlocked.Read(ref _envelopes);

    /// <summary>What client reports said was dropped (with <see cref="CountReports"/>).</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    private async Task AcceptLoop()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient c;
            try { c = await _listener.AcceptTcpClientAsync(_stop.Token); }
            catch { return; }
            _ = Task.Run(() => Serve(c));
        }
    }

    private async Task Serve(TcpClient client)
    {
        using var _ = client;
        var stream = new BufferedStream(client.GetStream(), 65536);
        var head = new List<byte>(512);
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                head.Clear();
                int b;
                while ((b = stream.ReadByte()) >= 0)
                {
                    head.Add((byte)b);
                    if (head.Count >= 4 && head[^1] == '\n' && head[^2] == '\r' && head[^3] == '\n' && head[^4] == '\r')
                        break;
                }
                if (b < 0)
                    return;
                var text = Encoding.ASCII.GetString([.. head]);
                var length = 0;
                foreach (var line in text.Split("\r\n"))
                    if (line.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase))
                        length = int.Parse(line[15..].Trim(), System.Globalization.CultureInfo.InvariantCulture);
                var body = new byte[length];
                await stream.ReadExactlyAsync(body, _stop.Token);
                if (Hang)
                {
                    await Task.Delay(Timeout.Infinite, _stop.Token);
                    return;
                }
                Interlocked.Increment(ref _envelopes);
                if (CountReports)
                    CountReport(body, gzipped: text.Contains("gzip", StringComparison.Ordinal));
                var reply = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"u8.ToArray();
                await stream.WriteAsync(reply, _stop.Token);
                await stream.FlushAsync(_stop.Token);
            }
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException)
        {
        }
    }

    private void CountReport(byte[] body, bool gzipped)
    {
        if (gzipped)
        {
            using var z = new System.IO.Compression.GZipStream(new MemoryStream(body), System.IO.Compression.CompressionMode.Decompress);
            using var ms = new MemoryStream();
            z.CopyTo(ms);
            body = ms.ToArray();
        }
        var s = Encoding.UTF8.GetString(body);
        if (!s.Contains("\"client_report\"", StringComparison.Ordinal))
            return;
        foreach (System.Text.RegularExpressions.Match m in System.Text.RegularExpressions.Regex.Matches(s, "\"quantity\":(\\d+)"))
            Interlocked.Add(ref _dropped, long.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
    }
}
