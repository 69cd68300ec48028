using System.Collections.Concurrent;
using System.IO.Compression;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace PerlSentry.Engine.Tests.Sentry.Transport;

/// <summary>
/// A real HTTP/1.1 server on 127.0.0.1 standing in for Sentry's ingestion: it records every
/// request (gzip undone) and answers as the test says: 200, 429 with any headers, 500, a dropped
/// connection or no answer at all.
/// </summary>
public sealed class FakeSentryServer : IDisposable
{
    public enum Kind { Ok, Status, Drop, Hang }

    public sealed record Reply(Kind Kind, int Status = 200, IReadOnlyDictionary<string, string>? Headers = null)
    {
        public static readonly Reply Ok = new(Kind.Ok);
        public static readonly Reply Drop = new(Kind.Drop);
        public static readonly Reply Hang = new(Kind.Hang);

        public static Reply WithStatus(int status, params (string Name, string Value)[] headers) =>
            new(Kind.Status, status, headers.ToDictionary(h => h.Name, h => h.Value));
    }

    public sealed record Request(string Method, string Path, IReadOnlyDictionary<string, string> Headers, byte[] Body, Reply Answer);

    private readonly TcpListener _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentQueue<Request> _requests = new();
    private readonly List<TcpClient> _clients = [];

    public FakeSentryServer()
    {
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        _ = AcceptLoop();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public string Dsn(int project = 42) => $"http://publickey@127.0.0.1:{Port}/{project}";

    /// <summary>What to answer; by default 200. Gets the request's number (0-based).</summary>
    public Func<int, Reply> Answer { get; set; } = _ => Reply.Ok;

    private int _count;

    /// <summary>How long each answer waits (a far or slow server).</summary>
    public TimeSpan Delay { get; set; }

    private int _held;
    private int _mostHeld;

    /// <summary>The most requests it held unanswered at once (while <see cref="Delay"/> is set).</summary>
    public int MostAtOnce => Volatile.Read(ref _mostHeld);

    public IReadOnlyList<Request> Requests => [.. _requests];

    /// <summary>Bodies of the requests answered 2xx: what Sentry accepted.</summary>
    public IReadOnlyList<byte[]> Accepted => [.. _requests.Where(r => r.Answer.Kind == Kind.Ok || r.Answer is { Kind: Kind.Status, Status: >= 200 and < 300 }).Select(r => r.Body)];

    /// <summary>Waits until <paramref name="predicate"/> holds for the requests so far.</summary>
    public bool WaitFor(Func<IReadOnlyList<Request>, bool> predicate, TimeSpan timeout)
    {
        var until = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < until)
        {
            if (predicate(Requests))
                return true;
            Thread.Sleep(20);
        }
        return predicate(Requests);
    }

    private async Task AcceptLoop()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try { client = await _listener.AcceptTcpClientAsync(_stop.Token); }
            catch { return; }
            lock (_clients) _clients.Add(client);
            _ = Serve(client);
        }
    }

    private async Task Serve(TcpClient client)
    {
        try
        {
            var stream = new BufferedStream(client.GetStream(), 65536);
            while (!_stop.IsCancellationRequested)
            {
                var head = await ReadHead(stream);
                if (head is null)
                    return;
                var lines = head.Split("\r\n");
                var parts = lines[0].Split(' ');
                var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
                foreach (var l in lines.Skip(1).Where(l => l.Contains(':')))
                    headers[l[..l.IndexOf(':')].Trim()] = l[(l.IndexOf(':') + 1)..].Trim();
                var length = headers.TryGetValue("Content-Length", out var cl) ? int.Parse(cl) : 0;
                var body = new byte[length];
                await stream.ReadExactlyAsync(body, _stop.Token);
                if (headers.TryGetValue("Content-Encoding", out var enc) && enc.Contains("gzip"))
                {
                    using var gz = new GZipStream(new MemoryStream(body), CompressionMode.Decompress);
                    using var ms = new MemoryStream();
                    gz.CopyTo(ms);
                    body = ms.ToArray();
                }
                var reply = Answer(Interlocked.Increment(ref _count) - 1);
                _requests.Enqueue(new Request(parts[0], parts[1], headers, body, reply));
                switch (reply.Kind)
                {
                    case Kind.Drop:
                        client.Client.LingerState = new LingerOption(true, 0);
                        client.Close();
                        return;
                    case Kind.Hang:
                        await Task.Delay(Timeout.Infinite, _stop.Token);
                        return;
                }
                if (Delay > TimeSpan.Zero)
                {
                    var held = Interlocked.Increment(ref _held);
                    for (var most = _mostHeld; held > most; most = _mostHeld)
                        Interlocked.CompareExchange(ref _mostHeld, held, most);
                    try { await Task.Delay(Delay, _stop.Token); }
                    finally { Interlocked.Decrement(ref _held); }
                }
                var status = reply.Kind == Kind.Ok ? 200 : reply.Status;
                var sb = new StringBuilder($"HTTP/1.1 {status} {(status == 200 ? "OK" : "Status")}\r\n");
                foreach (var (k, v) in reply.Headers ?? new Dictionary<string, string>())
                    sb.Append(k).Append(": ").Append(v).Append("\r\n");
                var answer = status == 200 ? "{\"id\":\"ok\"}" : "{\"detail\":\"test\"}";
                sb.Append($"Content-Type: application/json\r\nContent-Length: {answer.Length}\r\n\r\n{answer}");
                await stream.WriteAsync(Encoding.ASCII.GetBytes(sb.ToString()), _stop.Token);
                await stream.FlushAsync(_stop.Token);
            }
        }
        catch
        {
            // the client went away
        }
    }

    private async Task<string?> ReadHead(Stream stream)
    {
        var buf = new List<byte>();
        var one = new byte[1];
        while (true)
        {
            var n = await stream.ReadAsync(one, _stop.Token);
            if (n == 0)
                return null;
            buf.Add(one[0]);
            if (buf.Count >= 4 && buf[^1] == '\n' && buf[^2] == '\r' && buf[^3] == '\n' && buf[^4] == '\r')
                return Encoding.ASCII.GetString([.. buf]);
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
        lock (_clients)
            foreach (var c in _clients) c.Dispose();
    }
}
