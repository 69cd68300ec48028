using System.IO.Compression;
using System.Net;
using System.Net.Security;
using Polly;
using Polly.CircuitBreaker;
using Polly.Retry;

namespace PerlSentry.Engine.Sentry.Transport;

/// <summary>
/// POSTs gzipped envelopes to a Sentry endpoint with <c>X-Sentry-Auth</c> (spec §1) on the calling
/// thread (a sender thread of <see cref="BackgroundTransport"/>), through a Polly pipeline: a circuit
/// breaker around retries of transient network failures (jittered exponential backoff); each attempt
/// has the timeout. HTTP answers, 5xx included, are not retried here: the transport keeps the envelope
/// in its cache instead (Sentry asks SDKs not to hammer a failing server). Requests go straight to the
/// server through <see cref="Http1Client"/>; when <c>HTTPS_PROXY</c>/<c>HTTP_PROXY</c> applies to the
/// endpoint, through <see cref="HttpClient"/>, which speaks to proxies.
/// </summary>
public sealed class HttpSink : IEnvelopeSink
{
    private readonly Http1Client? _direct;
    private readonly HttpClient? _proxied;
    private readonly Uri _endpoint;
    private readonly TimeSpan _timeout;
    private readonly (string, string)[] _headers;
    private readonly (string, string)[] _gzipHeaders;
    private readonly byte[] _prefix = [];
    private readonly byte[] _gzipPrefix = [];
    private readonly bool _gzip;
    private readonly ResiliencePipeline _pipeline;
    private readonly CircuitBreakerStateProvider _breaker = new();

    public sealed record Settings(TimeSpan Timeout, int Retries = 2, TimeSpan? RetryDelay = null, TimeSpan? BreakDuration = null, bool Gzip = true);

    /// <param name="validate">Certificate validation in place of the system's (tests with a self-signed certificate).</param>
    /// <param name="proxy">The proxies to use; default: the environment's (<c>HTTPS_PROXY</c>, <c>HTTP_PROXY</c>, <c>NO_PROXY</c>).</param>
    public HttpSink(Uri endpoint, string? authHeader, SdkInfo sdk, Settings settings, RemoteCertificateValidationCallback? validate = null,
        IWebProxy? proxy = null)
    {
        _endpoint = endpoint;
        _timeout = settings.Timeout;
        _gzip = settings.Gzip;
        List<(string, string)> headers = [("User-Agent", $"{sdk.Name}/{sdk.Version}"), ("Content-Type", "application/x-sentry-envelope")];
        if (!string.IsNullOrEmpty(authHeader))
            headers.Add(("X-Sentry-Auth", authHeader));
        _headers = [.. headers];
        _gzipHeaders = [.. headers, ("Content-Encoding", "gzip")];
        proxy ??= HttpClient.DefaultProxy;
        if (ProxyFor(endpoint, proxy) is null)
        {
            _direct = new Http1Client(endpoint, validate);
            _prefix = _direct.RequestPrefix(_headers);
            _gzipPrefix = _direct.RequestPrefix(_gzipHeaders);
        }
        else
            // Redirects are never followed: a 3xx to another origin would carry the envelope and the DSN's keys there.
            _proxied = new HttpClient(new SocketsHttpHandler
            {
                PooledConnectionLifetime = TimeSpan.FromMinutes(5),
                AllowAutoRedirect = false,
                Proxy = proxy,
                UseProxy = true,
                SslOptions = { RemoteCertificateValidationCallback = validate },
            })
            {
                Timeout = Timeout.InfiniteTimeSpan,   // each attempt has its own
            };
        static bool Transient(Outcome<object> o) => o.Exception is IOException or HttpRequestException;
        var builder = new ResiliencePipelineBuilder()
            .AddCircuitBreaker(new CircuitBreakerStrategyOptions
            {
                FailureRatio = 1.0,
                MinimumThroughput = 3,
                SamplingDuration = TimeSpan.FromSeconds(30),
                BreakDuration = settings.BreakDuration ?? TimeSpan.FromSeconds(30),
                StateProvider = _breaker,
                ShouldHandle = args => ValueTask.FromResult(Transient(args.Outcome) || args.Outcome.Result is SinkResult { Status: >= 500 }),
            });
        if (settings.Retries > 0)
            builder.AddRetry(new RetryStrategyOptions
            {
                MaxRetryAttempts = Math.Max(0, settings.Retries),
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = settings.RetryDelay ?? TimeSpan.FromMilliseconds(200),
                ShouldHandle = args => ValueTask.FromResult(Transient(args.Outcome)),
            });
        _pipeline = builder.Build();
    }

    /// <summary>The proxy <paramref name="proxy"/> gives for <paramref name="endpoint"/>, or null.</summary>
    private static Uri? ProxyFor(Uri endpoint, IWebProxy proxy)
    {
        try
        {
            return proxy.IsBypassed(endpoint) ? null : proxy.GetProxy(endpoint) is { } p && p != endpoint ? p : null;
        }
        catch (Exception e) when (e is InvalidOperationException or UriFormatException or ArgumentException)
        {
            return null;
        }
    }

    /// <summary>The X-Sentry-Auth header for a DSN (spec §1).</summary>
    public static string AuthHeader(Dsn dsn, SdkInfo sdk) =>
        $"Sentry sentry_version=7, sentry_client={sdk.Name}/{sdk.Version}, sentry_key={dsn.PublicKey}"
        + (dsn.SecretKey is null ? "" : $", sentry_secret={dsn.SecretKey}");

    public string Name => _endpoint.ToString();

    /// <summary>True while the breaker refuses requests.</summary>
    public bool IsBroken => _breaker.CircuitState is CircuitState.Open or CircuitState.Isolated;

    /// <summary>Whether requests go through a proxy (the environment names one for this endpoint).</summary>
    public bool ThroughProxy => _proxied is not null;

    public SinkResult Send(byte[] envelope)
    {
        var gzip = _gzip && envelope.Length >= GzipFrom;
        var body = gzip ? Gzip(envelope) : envelope;
        try
        {
            return _pipeline.Execute(static (state, _) => state.Sink.Post(state.Body, state.Gzip), (Sink: this, Body: body, Gzip: gzip));
        }
        catch (BrokenCircuitException)
        {
            return SinkResult.Failed("the circuit breaker is open after repeated failures");
        }
        catch (ObjectDisposedException)
        {
            return SinkResult.Failed("closed at shutdown");
        }
        catch (Exception e) when (e is HttpRequestException or IOException)
        {
            return SinkResult.Failed(e.Message);
        }
    }

    private SinkResult Post(byte[] body, bool gzip)
    {
        if (_direct is not null)
        {
            var r = _direct.Post(Http1Client.RequestHead(gzip ? _gzipPrefix : _prefix, body.Length), body, _timeout);
            return ResultOf(r.Status, r.Reason, r.Header);
        }
        using var req = new HttpRequestMessage(HttpMethod.Post, _endpoint) { Content = new ByteArrayContent(body) };
        foreach (var (name, value) in gzip ? _gzipHeaders : _headers)
            if (!req.Headers.TryAddWithoutValidation(name, value))
                req.Content.Headers.TryAddWithoutValidation(name, value);
        using var cts = new CancellationTokenSource(_timeout);
        try
        {
            using var resp = _proxied!.Send(req, HttpCompletionOption.ResponseHeadersRead, cts.Token);
            return ResultOf((int)resp.StatusCode, resp.ReasonPhrase, name => resp.Headers.TryGetValues(name, out var v) ? string.Join(", ", v) : null);
        }
        catch (OperationCanceledException e) when (cts.IsCancellationRequested)
        {
            throw new IOException("the request timed out", e);
        }
    }

    /// <summary>What the transport reads of an answer: the status, the limit headers, and why it failed.</summary>
    private static SinkResult ResultOf(int status, string? reason, Func<string, string?> header) =>
        new(status, header("X-Sentry-Rate-Limits"), header("Retry-After"),
            status is >= 200 and < 300 ? null : header("X-Sentry-Error") ?? reason);

    /// <summary>
    /// Smaller envelopes go uncompressed (Relay takes both): a transaction with a short profile is
    /// ~2 KB, gzip saves ~1 KB of it and costs ~15 µs of CPU each time, most of it setting up deflate's
    /// state (perf of a traced <c>perl-sentry serve</c>).
    /// </summary>
    public const int GzipFrom = 4096;

    private static byte[] Gzip(byte[] data)
    {
        using var ms = new MemoryStream();
        using (var gz = new GZipStream(ms, CompressionLevel.Fastest))
            gz.Write(data);
        return ms.ToArray();
    }

    public void Dispose()
    {
        _direct?.Dispose();
        _proxied?.Dispose();
    }
}
