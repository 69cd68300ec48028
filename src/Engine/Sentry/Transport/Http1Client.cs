using System.Collections.Concurrent;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;

namespace PerlSentry.Engine.Sentry.Transport;

/// <summary>
/// POSTs to one origin over HTTP/1.1 with blocking I/O, on the calling thread, over kept-alive
/// connections (TLS for https). The transport's sender threads call it: measured on this machine, an
/// envelope sent a couple of milliseconds after the last one cost ~50 µs of CPU this way against
/// ~600 µs through <see cref="HttpClient"/>'s synchronous <c>Send</c> and ~1 ms through its async path
/// with the old loop of tasks: every await of a socket there is a wake-up of a pool thread, and at a
/// server's rate of transactions each envelope came alone (bench/RESULTS.md, the transport rows).
/// It speaks only what Sentry's ingestion answers: a status line, headers, and a body framed by
/// Content-Length, chunked, or the connection's end; the body is read and discarded.
/// </summary>
public sealed class Http1Client : IDisposable
{
    private static readonly TimeSpan MaxIdle = TimeSpan.FromSeconds(30);
    private const int LookAfterMs = 1000;

    private readonly Uri _uri;
    private readonly RemoteCertificateValidationCallback? _validate;
    private readonly ConcurrentStack<Http1Connection> _idle = new();
    private readonly HashSet<Http1Connection> _open = [];
    private volatile bool _disposed;

    /// <param name="uri">The URL posted to (http or https).</param>
    /// <param name="validate">Certificate validation in place of the system's (tests with a self-signed certificate).</param>
    public Http1Client(Uri uri, RemoteCertificateValidationCallback? validate = null)
    {
        if (uri.Scheme is not ("http" or "https"))
            throw new ArgumentException($"only http and https URLs can be posted to, not {uri}", nameof(uri));
        _uri = uri;
        _validate = validate;
    }

    /// <summary>What the server answered: the status, the reason phrase and the headers the transport reads.</summary>
    public sealed record Response(int Status, string Reason, IReadOnlyDictionary<string, string> Headers)
    {
        public string? Header(string name) => Headers.TryGetValue(name, out var v) ? v : null;
    }

    /// <summary>
    /// Sends <paramref name="head"/> (the request line and headers, ending in an empty line, as
    /// <see cref="RequestHead"/> makes them) and <paramref name="body"/>, and reads the answer; the whole
    /// exchange within <paramref name="timeout"/>. Throws <see cref="IOException"/> on a failure or a timeout.
    /// A kept-alive connection the server closed meanwhile is replaced and the request sent once more on
    /// a new one, as <see cref="HttpClient"/> does; only when no byte of an answer came.
    /// </summary>
    public Response Post(byte[] head, ReadOnlySpan<byte> body, TimeSpan timeout)
    {
        var deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
        while (true)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var reused = TakeIdle();
            var conn = reused ?? Connect(deadline);
            try
            {
                conn.Write(head, body, deadline);
                var response = conn.ReadResponse(deadline, out var keepAlive);
                if (keepAlive && !_disposed)
                {
                    conn.IdleSince = Environment.TickCount64;
                    _idle.Push(conn);
                }
                else
                    Close(conn);
                return response;
            }
            catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or AuthenticationException)
            {
                Close(conn);
                if (reused is null || conn.AnswerStarted || _disposed)
                    throw e as IOException ?? new IOException(e.Message, e);
            }
        }
    }

    /// <summary>
    /// The request line and headers for POSTs to this client's URL, up to the Content-Length's value;
    /// made once (<see cref="RequestHead"/> adds the length).
    /// </summary>
    public byte[] RequestPrefix(IEnumerable<(string Name, string Value)> headers)
    {
        var sb = new System.Text.StringBuilder(256);
        sb.Append("POST ").Append(_uri.PathAndQuery).Append(" HTTP/1.1\r\nHost: ").Append(_uri.IsDefaultPort ? HostForHeader : $"{HostForHeader}:{_uri.Port}").Append("\r\n");
        foreach (var (name, value) in headers)
        {
            if (name.AsSpan().IndexOfAny("\r\n:") >= 0 || value.AsSpan().IndexOfAny('\r', '\n') >= 0)
                throw new ArgumentException($"the header {name} has a line break or a colon where it cannot");
            sb.Append(name).Append(": ").Append(value).Append("\r\n");
        }
        sb.Append("Content-Length: ");
        return System.Text.Encoding.ASCII.GetBytes(sb.ToString());
    }

    /// <summary>A request's head: <paramref name="prefix"/> (from <see cref="RequestPrefix"/>), the body's length and the empty line.</summary>
    public static byte[] RequestHead(byte[] prefix, int length)
    {
        Span<byte> digits = stackalloc byte[12];
        System.Buffers.Text.Utf8Formatter.TryFormat(length, digits, out var n);
        var head = new byte[prefix.Length + n + 4];
        prefix.CopyTo(head, 0);
        digits[..n].CopyTo(head.AsSpan(prefix.Length));
        "\r\n\r\n"u8.CopyTo(head.AsSpan(prefix.Length + n));
        return head;
    }

    private string HostForHeader => _uri.HostNameType == UriHostNameType.IPv6 ? $"[{_uri.IdnHost}]" : _uri.IdnHost;

    private Http1Connection? TakeIdle()
    {
        var now = Environment.TickCount64;
        while (_idle.TryPop(out var conn))
        {
            // Idle long enough that servers' keep-alive timeouts may close it as we write, or closed by the
            // server while idle (readable with nothing to read): a new one instead. Not looked at when
            // it was used a moment ago (a system call an envelope at a server's rate): a request that
            // finds it closed goes once more on a new connection anyway.
            var idle = now - conn.IdleSince;
            if (idle < MaxIdle.TotalMilliseconds && (idle < LookAfterMs || conn.LooksAlive()))
                return conn;
            Close(conn);
        }
        return null;
    }

    private Http1Connection Connect(long deadline)
    {
        // Blocking calls only: once a .NET socket has run one async operation it stays non-blocking, and
        // every later synchronous call waits on the sockets' event thread instead of in the kernel.
        IPAddress[] addresses;
        try
        {
            addresses = IPAddress.TryParse(_uri.IdnHost, out var literal) ? [literal] : Dns.GetHostAddresses(_uri.IdnHost);
        }
        catch (SocketException e)
        {
            throw new IOException($"cannot resolve {_uri.IdnHost}: {e.Message}", e);
        }
        Exception? last = null;
        foreach (var address in addresses)
        {
            var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                var timeoutMs = Remaining(deadline);
                socket.SendTimeout = socket.ReceiveTimeout = timeoutMs;   // Linux's connect() keeps to the send timeout
                socket.Connect(new IPEndPoint(address, _uri.Port));
                Stream stream = new NetworkStream(socket, ownsSocket: true);
                if (_uri.Scheme == "https")
                {
                    var ssl = new SslStream(stream, leaveInnerStreamOpen: false, _validate);
                    ssl.AuthenticateAsClient(new SslClientAuthenticationOptions
                    {
                        TargetHost = _uri.IdnHost,
                        ApplicationProtocols = [SslApplicationProtocol.Http11],
                        CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
                    });
                    stream = ssl;
                }
                return Track(new Http1Connection(socket, stream, timeoutMs));
            }
            catch (Exception e) when (e is SocketException or AuthenticationException or IOException)
            {
                socket.Dispose();
                last = e;
            }
        }
        throw new IOException($"cannot connect to {_uri.Authority}: {last?.Message ?? "no address"}", last);
    }

    private Http1Connection Track(Http1Connection conn)
    {
        lock (_open)
        {
            if (_disposed)
            {
                conn.Dispose();
                throw new ObjectDisposedException(nameof(Http1Client));
            }
            _open.Add(conn);
        }
        return conn;
    }

    private void Close(Http1Connection conn)
    {
        lock (_open)
            _open.Remove(conn);
        conn.Dispose();
    }

    internal static int Remaining(long deadline)
    {
        var ms = deadline - Environment.TickCount64;
        if (ms <= 0)
            throw new IOException("the request timed out");
        return (int)Math.Min(ms, int.MaxValue);
    }

    /// <summary>Closes every connection, idle or in use (a blocked read or write ends with an error).</summary>
    public void Dispose()
    {
        _disposed = true;
        lock (_open)
        {
            foreach (var conn in _open)
                conn.Dispose();
            _open.Clear();
        }
        _idle.Clear();
    }
}
