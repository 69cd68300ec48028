using System.Buffers;
using System.Net;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using PerlSentry.Engine.PerlApi;
using PerlSentry.Engine.Session;
using PerlSentry.PerlBridge;

namespace PerlSentry.Hosting;

/// <summary>What a <see cref="PsgiServer"/> runs and how.</summary>
public sealed class PsgiOptions
{
    /// <summary>The <c>.psgi</c> file: its last value is the PSGI application (a code reference).</summary>
    public string AppFile { get; set; } = "";

    /// <summary>How many interpreters serve requests, each on a thread of its own. Default: the number of processors.</summary>
    public int Workers { get; set; } = Environment.ProcessorCount;

    /// <summary>Directories put on <c>@INC</c>, as <c>perl -I</c>.</summary>
    public IList<string> IncludeDirs { get; } = [];

    /// <summary>Modules every interpreter loads before the app (<c>require</c>).</summary>
    public IList<string> Modules { get; } = [];

    /// <summary>Requests waiting for an interpreter past which a request is answered 503 at once. Default 1,000.</summary>
    public int MaxQueued { get; set; } = 1000;

    /// <summary>How long the app may take for one request; past it the request ends with 500 (null: no limit).</summary>
    public TimeSpan? RequestTimeout { get; set; }

    /// <summary>How messages name <see cref="RequestTimeout"/> (perl-sentry serve: its --timeout option).</summary>
    public string RequestTimeoutName { get; set; } = "PsgiOptions.RequestTimeout";

    /// <summary>
    /// The options of <c>Sentry::SDK-&gt;init</c> for every interpreter (unless the app file called
    /// <c>init</c> itself); the server then makes one transaction per request, as
    /// <c>Plack::Middleware::Sentry</c> does under other servers: named <c>METHOD /path</c>, continuing
    /// the incoming trace, the request on its scope, with its profile, and an event for a <c>die</c>.
    /// Null: no SDK (an app may still enable the middleware itself).
    /// </summary>
    public IDictionary<string, object?>? Sentry { get; set; }
}

/// <summary>
/// A PSGI server over a <see cref="PerlPool"/>: each HTTP request of ASP.NET Core (Kestrel) runs the
/// app on a free interpreter. The request body is read from the connection as the app reads
/// <c>psgi.input</c>; a streamed response (<c>psgi.streaming</c>) goes out as the app writes it.
/// </summary>
public sealed class PsgiServer : IAsyncDisposable
{
    [ThreadStatic] private static Exchange? t_exchange;

    private readonly PerlPool _pool;
    private readonly ILogger _log;
    private readonly bool _traced;
    private readonly RequestTracer _tracer;

    private PsgiServer(PerlPool pool, ILogger log, bool traced)
    {
        _pool = pool;
        _log = log;
        _traced = traced;
        _tracer = new RequestTracer(m => log.LogWarning("{Message}", m));
    }

    /// <summary>The interpreters.</summary>
    public PerlPool Pool => _pool;

    /// <summary>
    /// Starts the interpreters and loads the app into each. Throws <see cref="ArgumentException"/> for
    /// bad options and <see cref="PerlException"/> when the app does not load or is not a PSGI app.
    /// </summary>
    public static PsgiServer Start(PsgiOptions options, ILogger? log = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (string.IsNullOrEmpty(options.AppFile))
            throw new ArgumentException("PsgiOptions.AppFile: no .psgi file given", nameof(options));
        if (!File.Exists(options.AppFile))
            throw new ArgumentException($"PsgiOptions.AppFile: no file {options.AppFile}", nameof(options));
        var app = Path.GetFullPath(options.AppFile);
        var pool = new PerlPoolOptions
        {
            Interpreters = options.Workers,
            MaxQueued = options.MaxQueued,
            CallTimeout = options.RequestTimeout,
            CallTimeoutName = options.RequestTimeoutName,
            Setup = perl => Load(perl, app, options),
        };
        foreach (var dir in options.IncludeDirs)
            pool.IncludeDirs.Add(dir);   // the pool adds the bundled perl/lib (PerlSentry::PSGI, the SDK) after them
        foreach (var module in options.Modules)
            pool.Modules.Add(module);
        return new PsgiServer(PerlPool.Start(pool), log ?? NullLogger.Instance, options.Sentry is not null);
    }

    private static void Load(PerlInterpreter perl, string app, PsgiOptions options)
    {
        HostApi.Install(perl);
        perl.Eval("require PerlSentry::PSGI; 1");
        perl.DefineSub("PerlSentry::PSGI::_read", Read);
        perl.DefineSub("PerlSentry::PSGI::_respond", Respond);
        perl.DefineSub("PerlSentry::PSGI::_write", Write);
        perl.DefineSub("PerlSentry::PSGI::_gone", Gone);
        perl.DefineSub("PerlSentry::PSGI::_begin", Begin);
        perl.DefineSub("PerlSentry::PSGI::_end", End);
        perl.Call("PerlSentry::PSGI::load", app, options.Workers,
            options.Sentry is null ? null : new Dictionary<string, object?>(options.Sentry));
    }

    /// <summary>Answers one request (an ASP.NET Core terminal handler).</summary>
    public async Task HandleAsync(HttpContext http)
    {
        var exchange = new Exchange(http) { Server = this };
        var limit = http.Features.Get<IHttpMaxRequestBodySizeFeature>()?.MaxRequestBodySize;
        if (limit is { } max && http.Request.ContentLength > max)
        {
            await Plain(http, 413, "Request Entity Too Large").ConfigureAwait(false);
            return;
        }
        var target = exchange.Target = Target.Of(http);
        var env = Environment(http, target);
        try
        {
            await _pool.RunAsync(http.Request.Method + " " + http.Request.Path, perl =>
            {
                t_exchange = exchange;
                exchange.Perl = perl;
                var ended = false;
                try
                {
                    var result = perl.CallNamed(_traced ? "PerlSentry::PSGI::handle_traced" : "PerlSentry::PSGI::handle", PerlContext.Scalar, env);
                    ended = true;
                    // psgix.harakiri.commit: the app asked for its interpreter to end after this request
                    if (result is [long and not 0])
                        _pool.Retire(perl);
                }
                finally
                {
                    // Perl did not reach _end (the call was stopped in the SDK's own steps): ended here.
                    if (exchange.Request is { } request)
                        FinishRequest(perl, request, exchange, ended);
                    t_exchange = null;
                }
                return 0;
            }, http.RequestAborted).ConfigureAwait(false);
            if (!exchange.Started)
                await Plain(http, 500, "Internal Server Error").ConfigureAwait(false);
        }
        catch (Exception e) when (e is PerlException or TimeoutException or PerlBridgeException or PerlExitException)
        {
            if (exchange.TooLarge)
            {
                if (!exchange.Started)
                    await Plain(http, 413, "Request Entity Too Large").ConfigureAwait(false);
                return;
            }
            if (exchange.Gone)
            {
                // Not the app's fault nor the server's: as Starman, nothing is said (debug level only).
                _log.LogDebug("{Method} {Path}: the client closed the connection: {Error}", http.Request.Method, http.Request.Path, e.Message);
                http.Abort();
                return;
            }
            _log.LogError("{Method} {Path}: {Error}", http.Request.Method, http.Request.Path, e.Message);
            if (exchange.Started)
                http.Abort();   // headers are out: the client sees a cut response, as from any server
            else
                await Plain(http, 500, "Internal Server Error").ConfigureAwait(false);
        }
        catch (PerlPoolFullException e)
        {
            _log.LogWarning("{Method} {Path}: {Error}", http.Request.Method, http.Request.Path, e.Message);
            await Plain(http, 503, "Service Unavailable").ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (http.RequestAborted.IsCancellationRequested)
        {
            // the client went away before an interpreter was free
        }
    }

    private static async Task Plain(HttpContext http, int status, string text)
    {
        if (http.Response.HasStarted)
            return;
        http.Response.Clear();
        http.Response.StatusCode = status;
        http.Response.ContentType = "text/plain";
        http.Response.ContentLength = text.Length;
        await http.Response.WriteAsync(text).ConfigureAwait(false);
    }

    /// <summary>The request target as PSGI splits it: the raw target, SCRIPT_NAME, PATH_INFO (decoded bytes), QUERY_STRING.</summary>
    private sealed record Target(string Raw, string ScriptName, byte[] Path, string Query)
    {
        public static Target Of(HttpContext http)
        {
            var request = http.Request;
            var raw = http.Features.Get<IHttpRequestFeature>()?.RawTarget;
            if (string.IsNullOrEmpty(raw) || raw[0] != '/')
                raw = request.PathBase.Value + request.Path.Value + request.QueryString.Value;   // absolute-form or "*"
            var q = raw.IndexOf('?', StringComparison.Ordinal);
            var scriptName = request.PathBase.Value ?? "";
            var path = Unescape(q < 0 ? raw : raw[..q]);
            if (scriptName.Length > 0 && path.AsSpan().StartsWith(Encoding.Latin1.GetBytes(scriptName)))
                path = path[scriptName.Length..];
            return new Target(raw, scriptName, path, q < 0 ? "" : raw[(q + 1)..]);
        }

        /// <summary>SCRIPT_NAME and PATH_INFO as one text, as Perl would hand them to the engine.</summary>
        public string FullPath() => PerlText.FromBytes([.. Encoding.Latin1.GetBytes(ScriptName), .. Path]);
    }

    /// <summary>
    /// Begins the request's transaction and scope on the interpreter's session, as Plack::Middleware::Sentry
    /// does under other servers (the same name, op, context and request), before the app runs.
    /// </summary>
    private HostedRequest? StartRequest(PerlInterpreter perl, HttpContext http, Target target) => _tracer.Start(perl, () =>
    {
        var request = http.Request;
        var path = target.FullPath();
        var ctx = new Dictionary<string, object?>(StringComparer.Ordinal)
        {
            ["name"] = request.Method + " " + (path.Length > 0 ? path : "/"),
            ["op"] = "http.server",
            ["source"] = "url",
            ["sentry_trace"] = Header(request, "sentry-trace"),
            ["baggage"] = Header(request, "baggage"),
        };
        var headers = new Dictionary<string, object?>(request.Headers.Count, StringComparer.Ordinal);
        foreach (var (name, values) in request.Headers)
        {
            if (name.Equals("Cookie", StringComparison.OrdinalIgnoreCase) || name.Equals("Authorization", StringComparison.OrdinalIgnoreCase)
                || name.Equals("Content-Type", StringComparison.OrdinalIgnoreCase) || name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase))
                continue;
            headers[name.ToUpperInvariant().Replace('-', '_')] = Decoded(Joined(values));
        }
        var host = Header(request, "Host") ?? $"{Local(http)}:{http.Connection.LocalPort.ToString(System.Globalization.CultureInfo.InvariantCulture)}";
        var context = new Dictionary<string, object?>(4, StringComparer.Ordinal)
        {
            ["method"] = request.Method,
            ["url"] = request.Scheme + "://" + host + path,
            ["query_string"] = Decoded(target.Query),
            ["headers"] = headers,
        };
        return (ctx, context);
    });

    /// <summary>
    /// Ends the request's transaction: with the response's HTTP status when the app's call ended
    /// normally; cancelled when the client went away; internal_error (500 when nothing was sent) when it died.
    /// </summary>
    private void FinishRequest(PerlInterpreter perl, HostedRequest request, Exchange exchange, bool ended)
    {
        if (ended)
            _tracer.Finish(perl, request, exchange.Http.Response.StatusCode);
        else if (exchange.Gone)
            _tracer.Finish(perl, request, null, "cancelled");
        else if (!exchange.Started)
            _tracer.Finish(perl, request, 500);
        else
            _tracer.Finish(perl, request, null, "internal_error");
    }

    private static string? Header(HttpRequest request, string name) =>
        request.Headers.TryGetValue(name, out var v) && v.Count > 0 ? Decoded(Joined(v)) : null;

    /// <summary>A header's values as one, as CGI gives a repeated header.</summary>
    private static string Joined(Microsoft.Extensions.Primitives.StringValues values) =>
        values.Count == 1 ? values[0]! : string.Join(", ", values.ToArray());

    /// <summary>A header or URL text (Kestrel reads them as Latin-1) as the SDK shows Perl's bytes: UTF-8 when they are.</summary>
    private static string Decoded(string s) => Ascii.IsValid(s) ? s : PerlText.FromBytes(Encoding.Latin1.GetBytes(s));

    private static string Local(HttpContext http)
    {
        var local = http.Connection.LocalIpAddress is { IsIPv4MappedToIPv6: true } l4 ? l4.MapToIPv4() : http.Connection.LocalIpAddress;
        return local?.ToString() ?? "localhost";
    }

    /// <summary>The CGI part of the PSGI environment, as a flat key/value list; PerlSentry::PSGI adds the psgi.* keys.</summary>
    private static object?[] Environment(HttpContext http, Target target)
    {
        var request = http.Request;
        var (raw, scriptName, path) = (target.Raw, target.ScriptName, target.Path);
        var connection = http.Connection;
        var remote = connection.RemoteIpAddress is { IsIPv4MappedToIPv6: true } r4 ? r4.MapToIPv4() : connection.RemoteIpAddress;
        var env = new List<object?>(32 + request.Headers.Count * 2)
        {
            "REQUEST_METHOD", request.Method,
            "SCRIPT_NAME", scriptName,
            "PATH_INFO", path,
            "REQUEST_URI", Text(raw),
            "QUERY_STRING", Text(target.Query),
            "SERVER_NAME", Local(http),
            "SERVER_PORT", connection.LocalPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "SERVER_PROTOCOL", request.Protocol,
            "REMOTE_ADDR", remote?.ToString() ?? "",
            "REMOTE_PORT", connection.RemotePort.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "psgi.url_scheme", request.Scheme,
        };
        foreach (var (name, values) in request.Headers)
        {
            var key = name.Equals("Content-Type", StringComparison.OrdinalIgnoreCase) ? "CONTENT_TYPE"
                : name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase) ? "CONTENT_LENGTH"
                : "HTTP_" + name.ToUpperInvariant().Replace('-', '_');
            env.Add(key);
            env.Add(Text(Joined(values)));
        }
        return [.. env];
    }

    /// <summary>A header or URL text as perl's bytes: Kestrel reads them as Latin-1, one byte per char.</summary>
    private static object Text(string s) => Ascii.IsValid(s) ? s : Encoding.Latin1.GetBytes(s);

    /// <summary>%XX decoded to bytes (PATH_INFO is the decoded path, as perl sees bytes).</summary>
    private static byte[] Unescape(string s)
    {
        var bytes = Encoding.Latin1.GetBytes(s);
        var n = 0;
        for (var i = 0; i < bytes.Length; i++)
        {
            if (bytes[i] == '%' && i + 2 < bytes.Length && Uri.IsHexDigit((char)bytes[i + 1]) && Uri.IsHexDigit((char)bytes[i + 2]))
            {
                bytes[n++] = (byte)((Uri.FromHex((char)bytes[i + 1]) << 4) | Uri.FromHex((char)bytes[i + 2]));
                i += 2;
            }
            else
            {
                bytes[n++] = bytes[i];
            }
        }
        return n == bytes.Length ? bytes : bytes[..n];
    }

    private static Exchange Current => t_exchange ?? throw new InvalidOperationException("PerlSentry::PSGI: no request is being served on this interpreter");

    /// <summary>_read($max): up to $max bytes of the request body, '' at its end.</summary>
    private static void Read(ref PerlCall call)
    {
        var exchange = Current;
        var max = (int)Math.Clamp(call.NextInt64(), 0, 1 << 20);
        if (max == 0)
        {
            call.Return(Array.Empty<byte>());
            return;
        }
        var buffer = new byte[max];
        int n;
        try
        {
            n = exchange.Http.Request.Body.ReadAsync(buffer).AsTask().GetAwaiter().GetResult();
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            exchange.TooLarge = true;
            throw new InvalidOperationException("the request body is larger than the server takes (413)");
        }
        call.Return(n == max ? buffer : buffer[..n]);
    }

    /// <summary>_respond($status, $has_body, $body, @headers): the status and headers, and the whole body when it is known.</summary>
    private static void Respond(ref PerlCall call)
    {
        var exchange = Current;
        if (exchange.Started)
            throw new InvalidOperationException("PSGI: the response was already started");
        var response = exchange.Http.Response;
        var statusValue = call.NextArgument();
        if (statusValue is not long status && !(statusValue is string text && long.TryParse(text, out status)) || status is < 200 or > 999)
            throw new InvalidOperationException($"PSGI: '{statusValue}' is not an HTTP status (a number from 200 to 999)");
        var hasBody = call.NextArgument() is true or (long)1;
        var body = call.NextBytes();
        response.StatusCode = (int)status;
        long? declared = null;
        while (call.HasMoreArguments)
        {
            var name = call.NextString() ?? "";
            var value = call.NextString() ?? "";
            if (name.Length == 0 || name.Any(c => c <= ' ' || c >= 127 || c == ':'))
                throw new InvalidOperationException($"PSGI: '{name}' is not a header name");
            if (name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase))
            {
                if (!long.TryParse(value, out var length) || length < 0)
                    throw new InvalidOperationException($"PSGI: Content-Length '{value}' is not a length");
                declared = length;
                response.ContentLength = length;
                continue;
            }
            response.Headers.Append(name, value);
        }
        exchange.Started = true;
        var bodyAllowed = status is not (204 or 304);
        if (!hasBody)
            return;
        if (bodyAllowed && declared is null)
            response.ContentLength = body.Length;
        if (bodyAllowed && !HttpMethods.IsHead(exchange.Http.Request.Method) && body.Length > 0)
            response.BodyWriter.Write(body);
    }

    /// <summary>_write($bytes): a piece of a streamed body, sent now.</summary>
    private static void Write(ref PerlCall call)
    {
        var exchange = Current;
        if (!exchange.Started)
            throw new InvalidOperationException("PSGI: body written before the status and headers");
        var data = call.NextBytes();
        var http = exchange.Http;
        if (data.Length == 0 || HttpMethods.IsHead(http.Request.Method) || http.Response.StatusCode is 204 or 304)
            return;
        http.Response.BodyWriter.Write(data);
        var flushed = http.Response.BodyWriter.FlushAsync().AsTask().GetAwaiter().GetResult();
        if (flushed.IsCanceled || flushed.IsCompleted && http.RequestAborted.IsCancellationRequested)
        {
            exchange.ClientGone = true;
            throw new InvalidOperationException("the client closed the connection");
        }
    }

    /// <summary>_gone(): 1 when the client closed the connection (a write failed for it, or Kestrel saw it go).</summary>
    private static void Gone(ref PerlCall call)
    {
        call.Return(Current.Gone ? 1L : 0L);
    }

    /// <summary>
    /// _begin(): begins the request's transaction and scope, from inside the Perl call, so its profile's
    /// first marker samples the request's Perl stack (not the idle interpreter's); returns their engine
    /// ids, or nothing when the request is not traced.
    /// </summary>
    private static void Begin(ref PerlCall call)
    {
        var exchange = Current;
        if (exchange is not { Server: { _traced: true } server, Perl: { } perl, Target: { } target } || exchange.Request is not null)
            return;
        if (server.StartRequest(perl, exchange.Http, target) is not { } request)
            return;
        exchange.Request = request;
        call.Return(request.TransactionId);
        call.Return(request.ScopeId);
    }

    /// <summary>_end($ended): finishes what _begin began (its closing marker on the request's stack); $ended false: the call died.</summary>
    private static void End(ref PerlCall call)
    {
        var exchange = Current;
        var ended = call.NextArgument() is long and not 0;
        if (exchange.Request is not { } request || exchange.Perl is not { } perl)
            return;
        exchange.Request = null;
        exchange.Server!.FinishRequest(perl, request, exchange, ended);
    }

    /// <summary>Stops the interpreters after the requests they are running.</summary>
    public ValueTask DisposeAsync() => _pool.DisposeAsync();

    private sealed class Exchange(HttpContext http)
    {
        public HttpContext Http { get; } = http;

        public PsgiServer? Server { get; init; }

        public PerlInterpreter? Perl { get; set; }

        public Target? Target { get; set; }

        /// <summary>The request's transaction, from _begin until it is finished.</summary>
        public HostedRequest? Request { get; set; }

        public bool Started { get; set; }

        public bool TooLarge { get; set; }

        /// <summary>A write found the client gone.</summary>
        public bool ClientGone { get; set; }

        /// <summary>The client closed the connection: a write failed for it, or Kestrel saw it go.</summary>
        public bool Gone => ClientGone || Http.RequestAborted.IsCancellationRequested;
    }
}

/// <summary>Serving a PSGI app from an ASP.NET Core pipeline.</summary>
public static class PsgiApplicationBuilderExtensions
{
    /// <summary>Every request that reaches this point is answered by the PSGI app of <paramref name="server"/>.</summary>
    public static IApplicationBuilder RunPsgi(this IApplicationBuilder app, PsgiServer server)
    {
        ArgumentNullException.ThrowIfNull(server);
        app.Run(server.HandleAsync);
        return app;
    }
}
