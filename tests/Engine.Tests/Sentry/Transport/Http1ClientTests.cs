using System.Diagnostics;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using PerlSentry.Engine.Sentry.Transport;

namespace PerlSentry.Engine.Tests.Sentry.Transport;

/// <summary>
/// The transport's HTTP/1.1 client against a real server on 127.0.0.1 that answers with the bytes each
/// test gives: the framings of a body, a server that closes kept-alive connections, TLS, a timeout.
/// </summary>
[TestFixture]
public sealed class Http1ClientTests
{
    /// <summary>Reads requests (head and Content-Length body) and writes the answer the test gives for each.</summary>
    private sealed class RawServer : IDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly Func<int, (string Answer, bool Close)> _answer;
        private readonly X509Certificate2? _certificate;
        private int _requests;
        private int _connections;

        public RawServer(Func<int, (string Answer, bool Close)> answer, X509Certificate2? certificate = null)
        {
            _answer = answer;
            _certificate = certificate;
            _listener.Start();
            new Thread(Accept) { IsBackground = true }.Start();
        }

        public int Requests => Volatile.Read(ref _requests);

        public int Connections => Volatile.Read(ref _connections);

        public List<string> Heads { get; } = [];

        public Uri Url(string scheme = "http") => new($"{scheme}://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}/api/42/envelope/");

        private void Accept()
        {
            while (true)
            {
                Socket s;
                try { s = _listener.AcceptSocket(); }
                catch (SocketException) { return; }
                catch (Exception e) when (e is ObjectDisposedException or InvalidOperationException) { return; }
                Interlocked.Increment(ref _connections);
                new Thread(() => Serve(s)) { IsBackground = true }.Start();
            }
        }

        private void Serve(Socket socket)
        {
            try
            {
                using var net = new NetworkStream(socket, ownsSocket: true);
                Stream stream = net;
                if (_certificate is not null)
                {
                    var ssl = new SslStream(net);
                    ssl.AuthenticateAsServer(_certificate);
                    stream = ssl;
                }
                using (stream)
                {
                    while (ReadRequest(stream) is { } head)
                    {
                        lock (Heads) Heads.Add(head);
                        var (answer, close) = _answer(Interlocked.Increment(ref _requests) - 1);
                        if (answer.Length > 0)
                            stream.Write(Encoding.ASCII.GetBytes(answer));
                        if (close)
                            return;
                    }
                }
            }
            catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or System.Security.Authentication.AuthenticationException)
            {
            }
        }

        private static string? ReadRequest(Stream stream)
        {
            var head = new List<byte>();
            var one = new byte[1];
            while (head.Count < 4 || !(head[^4] == '\r' && head[^3] == '\n' && head[^2] == '\r' && head[^1] == '\n'))
            {
                if (stream.Read(one) == 0)
                    return null;
                head.Add(one[0]);
            }
            var text = Encoding.ASCII.GetString([.. head]);
            var length = text.Split("\r\n").Where(l => l.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase))
                .Select(l => int.Parse(l[15..].Trim())).FirstOrDefault();
            stream.ReadExactly(new byte[length]);
            return text;
        }

        public void Dispose() => _listener.Stop();
    }

    private static readonly byte[] Body = Encoding.ASCII.GetBytes("{}\n{\"type\":\"event\"}\n{}\n");

    private static Http1Client.Response Post(Http1Client client, TimeSpan? timeout = null) =>
        client.Post(Http1Client.RequestHead(client.RequestPrefix([("X-Sentry-Auth", "Sentry sentry_key=k")]), Body.Length), Body, timeout ?? TimeSpan.FromSeconds(5));

    [Test]
    public void Post_ContentLengthAnswer_ReadsStatusAndHeaders_AndKeepsTheConnection()
    {
        using var server = new RawServer(_ => ("HTTP/1.1 429 Too Many Requests\r\nX-Sentry-Rate-Limits: 60:transaction:org\r\nRetry-After: 60\r\nX-A: 1\r\nX-A: 2\r\nContent-Length: 2\r\n\r\n{}", false));
        using var client = new Http1Client(server.Url());
        var first = Post(client);
        var second = Post(client);
        Assert.Multiple(() =>
        {
            Assert.That((first.Status, first.Reason), Is.EqualTo((429, "Too Many Requests")));
            Assert.That(first.Header("x-sentry-rate-limits"), Is.EqualTo("60:transaction:org"));
            Assert.That(first.Header("X-A"), Is.EqualTo("1, 2"), "repeated headers are joined");
            Assert.That(second.Status, Is.EqualTo(429));
            Assert.That(server.Connections, Is.EqualTo(1), "kept alive");
            Assert.That(server.Heads[0], Does.StartWith("POST /api/42/envelope/ HTTP/1.1\r\nHost: 127.0.0.1:"));
            Assert.That(server.Heads[0], Does.Contain("X-Sentry-Auth: Sentry sentry_key=k\r\n").And.Contain($"Content-Length: {Body.Length}\r\n\r\n"));
        });
    }

    // Chunked with a trailer after an interim 100 Continue: read to its end, the connection kept.
    [TestCase("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;ext=1\r\n{\"id\r\n3\r\n\":1\r\n1\r\n}\r\n0\r\nX-Trailer: t\r\n\r\n", false, 1)]
    // HTTP/1.0, the body running to the connection's end: read, the connection not reused.
    [TestCase("HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{\"id\":\"x\"}", true, 2)]
    public void Post_TwoRequests_TheAnswersBodyIsReadAsItIsFramed(string answer, bool close, int connections)
    {
        using var server = new RawServer(_ => (answer, close));
        using var client = new Http1Client(server.Url());
        Assert.That(Post(client).Status, Is.EqualTo(200));
        Assert.That(Post(client).Status, Is.EqualTo(200));
        Assert.That((server.Requests, server.Connections), Is.EqualTo((2, connections)));
    }

    [Test]
    public void Post_ServerClosedTheKeptAliveConnection_SendsOnANewOne()
    {
        // Answers as if the connection stays, then closes it (a server's keep-alive timeout).
        using var server = new RawServer(_ => ("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", true));
        using var client = new Http1Client(server.Url());
        Assert.That(Post(client).Status, Is.EqualTo(200));
        Thread.Sleep(100);
        Assert.That(Post(client).Status, Is.EqualTo(200));
        Assert.That((server.Requests, server.Connections), Is.EqualTo((2, 2)));
    }

    [Test]
    public void Post_ClosedWithoutAnswer_OnANewConnection_Throws()
    {
        using var server = new RawServer(_ => ("", true));
        using var client = new Http1Client(server.Url());
        Assert.That(() => Post(client), Throws.InstanceOf<IOException>().With.Message.Contains("closed the connection"));
        Assert.That(server.Requests, Is.EqualTo(1), "not sent again: the connection was new");
    }

    [Test]
    public void Post_NoAnswer_TimesOut()
    {
        using var server = new RawServer(_ => ("", false));
        using var client = new Http1Client(server.Url());
        var sw = Stopwatch.StartNew();
        Assert.That(() => Post(client, TimeSpan.FromMilliseconds(300)), Throws.InstanceOf<IOException>().With.Message.Contains("timed out"));
        Assert.That(sw.Elapsed, Is.LessThan(TimeSpan.FromSeconds(3)));
    }

    [Test]
    public void Post_NotHttp_Throws()
    {
        using var server = new RawServer(_ => ("SSH-2.0-OpenSSH\r\n\r\n", false));
        using var client = new Http1Client(server.Url());
        Assert.That(() => Post(client), Throws.InstanceOf<IOException>().With.Message.Contains("not an HTTP/1.x answer"));
    }

    [Test]
    public void Post_NothingListening_ThrowsIOException()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        using var client = new Http1Client(new Uri($"http://127.0.0.1:{port}/api/1/envelope/"));
        Assert.That(() => Post(client), Throws.InstanceOf<IOException>().With.Message.Contains("cannot connect"));
    }

    [Test]
    public void Post_Https_SpeaksTls_AndRefusesACertificateTheSystemDoesNotTrust()
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=127.0.0.1", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var san = new SubjectAlternativeNameBuilder();
        san.AddIpAddress(IPAddress.Loopback);
        request.CertificateExtensions.Add(san.Build());
        using var made = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        using var certificate = X509CertificateLoader.LoadPkcs12(made.Export(X509ContentType.Pfx), null);
        using var server = new RawServer(_ => ("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}", false), certificate);

        using (var trusting = new Http1Client(server.Url("https"), (_, cert, _, _) => cert?.GetCertHashString() == certificate.GetCertHashString()))
        {
            Assert.That(Post(trusting).Status, Is.EqualTo(200));
            Assert.That(Post(trusting).Status, Is.EqualTo(200));
        }
        Assert.That((server.Requests, server.Connections), Is.EqualTo((2, 1)));

        using var strict = new Http1Client(server.Url("https"));
        Assert.That(() => Post(strict), Throws.InstanceOf<IOException>().With.Message.Contains("cannot connect"));
        Assert.That(server.Requests, Is.EqualTo(2), "nothing was sent over a connection that failed validation");
    }

    [Test]
    public void RequestPrefix_ALineBreakInAHeader_IsRefused()
    {
        using var client = new Http1Client(new Uri("http://127.0.0.1:1/api/1/envelope/"));
        Assert.That(() => client.RequestPrefix([("X-Sentry-Auth", "a\r\nInjected: 1")]), Throws.ArgumentException);
    }
}
