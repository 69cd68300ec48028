using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using Polly;
using Polly.CircuitBreaker;
using Polly.Retry;
using Polly.Timeout;

namespace PerlSentry.Engine.Sentry.Transport;

/// <summary>
/// POSTs gzipped envelopes to a Sentry endpoint with <c>X-Sentry-Auth</c> (spec §1), through a Polly
/// pipeline: a circuit breaker around retries of transient network failures (jittered exponential
/// backoff) around a per-attempt timeout. HTTP answers, 5xx included, are not retried here: the
/// transport keeps the envelope in its cache instead (Sentry asks SDKs not to hammer a failing server).
/// </summary>
public sealed class HttpSink : IEnvelopeSink
{
    private readonly HttpClient _http;
    private readonly Uri _endpoint;
    private readonly string _auth;
    private readonly string _userAgent;
    private readonly bool _gzip;
    private readonly ResiliencePipeline _pipeline;
    private readonly CircuitBreakerStateProvider _breaker = new();

    public sealed record Settings(TimeSpan Timeout, int Retries = 2, TimeSpan? RetryDelay = null, TimeSpan? BreakDuration = null, bool Gzip = true);

    public HttpSink(Uri endpoint, string? authHeader, SdkInfo sdk, Settings settings, HttpMessageHandler? handler = null)
    {
        _endpoint = endpoint;
        _auth = authHeader ?? "";
        _userAgent = $"{sdk.Name}/{sdk.Version}";
        _gzip = settings.Gzip;
        // Kept-alive connections, as many as the transport sends at once; redirects are never followed:
        // a 3xx to another origin would carry the envelope and the DSN's keys there.
        _http = new HttpClient(handler ?? new SocketsHttpHandler
        {
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            MaxConnectionsPerServer = BackgroundTransport.Concurrency,
            AllowAutoRedirect = false,
        })
        {
            Timeout = Timeout.InfiniteTimeSpan,   // the pipeline owns timeouts
        };
        static bool Transient(Outcome<object> o) => o.Exception is HttpRequestException or TimeoutRejectedException or IOException;
        var builder = new ResiliencePipelineBuilder()
            .AddCircuitBreaker(new CircuitBreakerStrategyOptions
            {
                FailureRatio = 1.0,
                MinimumThroughput = 3,
                SamplingDuration = TimeSpan.FromSeconds(30),
                BreakDuration = settings.BreakDuration ?? TimeSpan.FromSeconds(30),
                StateProvider = _breaker,
                ShouldHandle = args => ValueTask.FromResult(Transient(args.Outcome) || args.Outcome.Result is HttpResponseMessage { StatusCode: >= HttpStatusCode.InternalServerError }),
            })
;
        if (settings.Retries > 0)
            builder.AddRetry(new RetryStrategyOptions
            {
                MaxRetryAttempts = Math.Max(0, settings.Retries),
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = settings.RetryDelay ?? TimeSpan.FromMilliseconds(200),
                ShouldHandle = args => ValueTask.FromResult(Transient(args.Outcome)),
            });
        _pipeline = builder.AddTimeout(settings.Timeout).Build();
    }

    /// <summary>The X-Sentry-Auth header for a DSN (spec §1).</summary>
    public static string AuthHeader(Dsn dsn, SdkInfo sdk) =>
        $"Sentry sentry_version=7, sentry_client={sdk.Name}/{sdk.Version}, sentry_key={dsn.PublicKey}"
        + (dsn.SecretKey is null ? "" : $", sentry_secret={dsn.SecretKey}");

    public string Name => _endpoint.ToString();

    /// <summary>True while the breaker refuses requests.</summary>
    public bool IsBroken => _breaker.CircuitState is CircuitState.Open or CircuitState.Isolated;

    public async Task<SinkResult> SendAsync(byte[] envelope, CancellationToken cancel)
    {
        var gzip = _gzip && envelope.Length >= GzipFrom;
        var body = gzip ? Gzip(envelope) : envelope;
        try
        {
            return await _pipeline.ExecuteAsync(async ct =>
            {
                using var req = new HttpRequestMessage(HttpMethod.Post, _endpoint) { Content = new ByteArrayContent(body) };
                req.Content.Headers.ContentType = new MediaTypeHeaderValue("application/x-sentry-envelope");
                if (gzip)
                    req.Content.Headers.ContentEncoding.Add("gzip");
                if (_auth.Length > 0)
                    req.Headers.TryAddWithoutValidation("X-Sentry-Auth", _auth);
                req.Headers.TryAddWithoutValidation("User-Agent", _userAgent);
                using var resp = await _http.SendAsync(req, HttpCompletionOption.ResponseHeadersRead, ct).ConfigureAwait(false);
                return new SinkResult((int)resp.StatusCode,
                    Header(resp, "X-Sentry-Rate-Limits"),
                    Header(resp, "Retry-After"),
                    resp.IsSuccessStatusCode ? null : Header(resp, "X-Sentry-Error") ?? resp.ReasonPhrase);
            }, cancel).ConfigureAwait(false);
        }
        catch (BrokenCircuitException)
        {
            return SinkResult.Failed("the circuit breaker is open after repeated failures");
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
            return SinkResult.Failed("cancelled at shutdown");
        }
        catch (Exception e) when (e is HttpRequestException or TimeoutRejectedException or IOException or OperationCanceledException)
        {
            return SinkResult.Failed(e.Message);
        }
    }

    private static string? Header(HttpResponseMessage resp, string name) =>
        resp.Headers.TryGetValues(name, out var v) ? string.Join(", ", v) : null;

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

    public void Dispose() => _http.Dispose();
}
