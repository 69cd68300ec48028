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
    private readonly System.Collections.Concurrent.ConcurrentDictionary<Socket, bool> _open = new();

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
            Socket c;
            try { c = await _listener.AcceptSocketAsync(_stop.Token); }
            catch { return; }
            // A thread per connection, blocking reads: the stand-in shares the cores with what is
            // measured, and this is the cheapest way to take an envelope (no async hops per request).
            _open[c] = true;
            new Thread(() => Serve(c)) { IsBackground = true, Name = "receiver" }.Start();
        }
    }

    private static readonly byte[] Reply = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"u8.ToArray();

    private void Serve(Socket socket)
    {
        var buf = new byte[1 << 16];
        int have = 0;
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                int headEnd;
                while ((headEnd = buf.AsSpan(0, have).IndexOf("\r\n\r\n"u8)) < 0)
                {
                    if (have == buf.Length)
                        Array.Resize(ref buf, buf.Length * 2);
                    var n = socket.Receive(buf, have, buf.Length - have, SocketFlags.None);
                    if (n <= 0)
                        return;
                    have += n;
                }
                var head = buf.AsSpan(0, headEnd);
                var length = ContentLength(head);
                var gzipped = head.IndexOf("gzip"u8) >= 0;
                var total = headEnd + 4 + length;
                if (total > buf.Length)
                    Array.Resize(ref buf, Math.Max(total, buf.Length * 2));
                while (have < total)
                {
                    var n = socket.Receive(buf, have, buf.Length - have, SocketFlags.None);
                    if (n <= 0)
                        return;
                    have += n;
                }
                if (Hang)
                {
                    _stop.Token.WaitHandle.WaitOne();
                    return;
                }
                Interlocked.Increment(ref _envelopes);
                if (CountReports)
                    CountReport(buf.AsSpan(headEnd + 4, length).ToArray(), gzipped);
                socket.Send(Reply);
                // What came after this request (a pipelined next one) moves to the front.
                Buffer.BlockCopy(buf, total, buf, 0, have - total);
                have -= total;
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
        }
        finally
        {
            _open.TryRemove(socket, out var _);
            socket.Dispose();
        }
    }

    private static int ContentLength(ReadOnlySpan<byte> head)
    {
        while (!head.IsEmpty)
        {
            var eol = head.IndexOf("\r\n"u8);
            var line = eol < 0 ? head : head[..eol];
            if (line.Length > 15 && Ascii.EqualsIgnoreCase(line[..15], "Content-Length:"u8)
                && System.Buffers.Text.Utf8Parser.TryParse(line[15..].Trim((byte)' '), out int length, out _))
                return length;
            head = eol < 0 ? default : head[(eol + 2)..];
        }
        return 0;
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
        foreach (var s in _open.Keys)
            s.Dispose();   // ends the blocked reads
    }
}
