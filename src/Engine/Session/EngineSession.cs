using System.Globalization;
using Newtonsoft.Json.Linq;
using PerlSentry.Engine.Profiling;
using PerlSentry.Engine.Profiling.Sessions;
using PerlSentry.Engine.Sentry;
using PerlSentry.Engine.Sentry.Transport;
using PerlSentry.PerlBridge;

namespace PerlSentry.Engine.Session;

/// <summary>
/// Everything the SDK keeps for one interpreter: its settings (validated once at <c>init</c>, then
/// immutable), its hub, its profiling (fed by the interpreter's one sampler and drain), and the
/// objects its Perl handles name. The Perl modules reach it through <see cref="SessionCalls"/>,
/// in-process or over the agent's socket; a .NET host may drive <see cref="Hub"/> directly.
/// Calls come from one thread at a time (the interpreter's, or its connection's).
/// </summary>
public sealed class EngineSession : IDisposable
{
    /// <summary>The id the client's root scope has (the client tracks its scope stack itself).</summary>
    public const long RootScopeId = 1;

    private readonly SessionHost _host;
    private readonly List<HubProfiler> _standalone = [];
    private Hub? _hub;
    private HubProfiler? _profiling;
    private ISampler? _sampler;
    private int _callbackDepth;
    private readonly HashSet<string> _refused = [];
    private readonly System.Runtime.CompilerServices.ConditionalWeakTable<Delegate, IPerlRef> _codeOf = [];

    /// <summary>The options <c>init</c> was given (code references as they came) and the environment it saw: a fork's child starts from them.</summary>
    public IReadOnlyDictionary<string, object?>? Given { get; private set; }

    public IReadOnlyDictionary<string, object?> Environment { get; private set; } = new Dictionary<string, object?>();

    /// <summary>Goes up with every call that may change the session (a fork's snapshot is made again only then).</summary>
    public long Version { get; set; }

    private (long Version, byte[] Bytes)? _snapshot;

    /// <summary>
    /// The session as a forked child continues from it (<see cref="SessionSnapshot"/>), as bytes; made
    /// again only when the session changed since the last fork (a prefork server forks in a loop).
    /// </summary>
    public byte[] SnapshotBytes()
    {
        if (_snapshot is { } cached && cached.Version == Version)
            return cached.Bytes;
        var bytes = System.Text.Encoding.UTF8.GetBytes(SessionSnapshot.Take(this, TokenOf).ToString(Newtonsoft.Json.Formatting.None));
        _snapshot = (Version, bytes);
        return bytes;
    }

    /// <summary>How the client knows a code reference (the token its agent client uses), for snapshots; 0: not known.</summary>
    public Func<IPerlRef, long> TokenOf { get; set; } = _ => 0;

    /// <summary>The code reference behind a callback this session made, if any.</summary>
    public IPerlRef? CodeOf(Delegate callback) => _codeOf.TryGetValue(callback, out var r) ? r : null;

    public EngineSession(SessionHost host)
    {
        _host = host;
        InApp = new InAppRules(host.LibraryDirs);
    }

    public SessionHost Host => _host;

    public HandleTable Handles { get; } = new();

    /// <summary>The current hub: a disabled one (no transport) until <see cref="Init"/>.</summary>
    public Hub Hub => _hub ??= NewHub(new SentryOptions { CacheDir = "" });

    public SentryOptions Options => Hub.Options;

    /// <summary>The SDK profiler's settings (the options, or what its attributes changed them to), without making it.</summary>
    public SentryOptions ProfilingOptions => _profiling?.Options ?? Options;

    /// <summary>The SDK's profiler (the hub's).</summary>
    public HubProfiler Profiling => _profiling ??= NewProfiler(Hub);

    /// <summary>in_app of stack and profile frames, from the options.</summary>
    public InAppRules InApp { get; private set; }

    public ISampler Sampler => _sampler ??= _host.Sampler();

    private Action<string>? _log;

    /// <summary>Debug logging (the <c>debug</c> option), on the program's STDERR.</summary>
    public void Log(string message) => _log?.Invoke(message);

    private Hub NewHub(SentryOptions options)
    {
        _log = options.Debug ? m => _host.Warn("[sentry] " + m) : null;
        var (transport, reports) = _host.Transports(options, _host.Clock, _log, _host.Warn);
        var hub = new Hub(options, transport, _host.Clock, _log, reports);
        hub.ThreadId = _host.ThreadId;
        hub.ThreadName = _host.ThreadName;
        hub.Client.Warn = _host.Warn;
        hub.Client.Writer = _host.Writer;
        hub.Client.SetDefaultContext("runtime", new JObject { ["name"] = "perl", ["version"] = _host.Host.PerlVersion });
        hub.Client.SetDefaultContext("os", new JObject { ["name"] = _host.Host.OsName, ["version"] = _host.Host.OsVersion });
        InApp = new InAppRules(_host.LibraryDirs, options.InAppInclude, options.InAppExclude);
        Handles.Put(RootScopeId, hub.CurrentScope);
        return hub;
    }

    /// <summary>A profiler for <paramref name="hub"/> on this interpreter's sampler.</summary>
    public HubProfiler NewProfiler(Hub hub) =>
        new(hub, Sampler, _host.Host, new InAppRules(_host.LibraryDirs, hub.Options.InAppInclude, hub.Options.InAppExclude), _log);

    /// <summary>
    /// <c>init</c>: options from the given hash (code references adapted to callbacks) and the
    /// environment; replaces the hub (what the old one queued is flushed first). Throws
    /// <see cref="SessionCallException"/> naming a bad option.
    /// </summary>
    public void Init(IReadOnlyDictionary<string, object?> given, IReadOnlyDictionary<string, object?> env)
    {
        var adapted = given.ToDictionary(kv => kv.Key, kv => Adapt(kv.Key, kv.Value), StringComparer.Ordinal);
        SentryOptions options;
        try
        {
            options = OptionsReader.Read(adapted, name => SessionValues.Text(env.GetValueOrDefault(name)), warn: _host.Warn);
        }
        catch (SentryOptionsException e)
        {
            throw new SessionCallException(e.Message);
        }
        Shutdown();
        Given = given;
        Environment = env;
        _hub = NewHub(options);
        Warmup.Start(options, _host.Host);   // the first transaction's JIT work, done beside the program (once per process)
        if (options.EnableProfiling)
        {
            _profiling = NewProfiler(_hub);
            _ = Sampler.NowNs;   // set the sampler up now, not inside the first profiled transaction
        }
        Log($"initialised: dsn {options.Dsn?.ToString() ?? "none"}, tracing {(options.TracingEnabled ? "on" : "off")}, "
            + $"profiling {(options.TransactionProfiling ? "transactions" : options.ContinuousProfiling ? "continuous" : "off")}, "
            + $"cache {(string.IsNullOrEmpty(options.CacheDir) ? "off" : options.CacheDir)}");
    }

    /// <summary>A standalone profiler (<c>Sentry::Profiling-&gt;new</c>) with its own options, sending through this hub's transport.</summary>
    public HubProfiler NewStandaloneProfiler(SentryOptions options)
    {
        var hub = new Hub(options with { Release = Hub.Options.Release, Environment = Hub.Options.Environment, Dsn = Hub.Options.Dsn },
            Hub.Client.Transport, Hub.Clock, _log, Hub.Client.Reports)
        {
            ThreadId = Hub.ThreadId,
            ThreadName = Hub.ThreadName,
        };
        var profiler = NewProfiler(hub);
        _standalone.Add(profiler);
        return profiler;
    }

    /// <summary>Code references given for the callback options become callbacks into the client's interpreter.</summary>
    public object? Adapt(string key, object? value)
    {
        if (value is not IPerlRef { Kind: PerlRefKind.Code } code)
            return value;
        Delegate? callback = key switch
        {
            "traces_sampler" or "profiles_sampler" => new Func<SamplingContext, double?>(ctx =>
                SessionValues.Number(Callback(() => code.Call(SessionValues.ToPerl(ctx.Data))))),
            "before_send" or "before_send_transaction" => EventCallback(code),
            _ => null,
        };
        if (callback is null)
            return value;
        _codeOf.AddOrUpdate(callback, code);
        return callback;
    }

    public Func<JObject, JObject?> EventCallback(IPerlRef code)
    {
        Func<JObject, JObject?> callback = evt =>
        {
            var result = Callback(() => code.Call(SessionValues.ToPerl(evt)));
            return result is null ? null : SessionValues.ToJObject(result);
        };
        _codeOf.AddOrUpdate(callback, code);
        return callback;
    }

    /// <summary>
    /// Runs a user callback. An <c>exit</c> in it ends the program: the SDK's call unwinds
    /// (<see cref="CallbackAbortedException"/>) and the front end exits as Perl would. While it runs,
    /// captures are refused (<see cref="Refuse"/>).
    /// </summary>
    private object? Callback(Func<object?> call)
    {
        _callbackDepth++;
        try
        {
            return call();
        }
        catch (PerlExitException e)
        {
            throw new CallbackAbortedException(e);
        }
        finally
        {
            _callbackDepth--;
        }
    }

    /// <summary>
    /// True (after one warning) when <paramref name="what"/> is called from inside a callback: a
    /// <c>before_send</c> that captures would call itself without end.
    /// </summary>
    public bool Refuse(string what)
    {
        if (_callbackDepth == 0)
            return false;
        if (_refused.Add(what))
            _host.Warn($"Sentry::SDK: {what} called from inside an SDK callback (before_send, a sampler, an event processor) is ignored");
        return true;
    }

    /// <summary>An event the program captured (its values as the seam brought them): its id, or null when dropped.</summary>
    public string? CaptureEvent(object? values) =>
        values is IDictionary<string, object?> dict && Hub.TryCaptureDirect(dict, InApp, out var id)
            ? id
            : Hub.CaptureEvent(MarkInApp(SessionValues.ToJObject(values)), owned: true);

    /// <summary>
    /// Marks stack frames of captured exceptions as in-app or not, where the event left it open. Any
    /// other shape (a list where an object belongs, a string for a stack trace) is left as it is.
    /// </summary>
    public JObject MarkInApp(JObject evt) => MarkInApp(evt, InApp, Options.IncludeSourceContext ? SourceContext.Shared : null);

    /// <summary>The same, with the given rules; frames get their source lines from <paramref name="source"/> where it is given.</summary>
    public static JObject MarkInApp(JObject evt, InAppRules inApp, SourceContext? source = null)
    {
        // By hand: SelectTokens parses its JSONPath on every call.
        static IEnumerable<JObject> Frames(JToken? container) =>
            ((container as JObject)?["values"] as JArray ?? []).OfType<JObject>()
                .SelectMany(v => (v["stacktrace"] as JObject)?["frames"] as JArray ?? []).OfType<JObject>();
        static string? Text(JToken? t) => t is JValue { Value: { } v } ? Convert.ToString(v, CultureInfo.InvariantCulture) : null;
        foreach (var f in Frames(evt["exception"]).Concat(Frames(evt["threads"])))
        {
            if (f["in_app"] is null)
                f["in_app"] = inApp.IsInApp(Text(f["module"]) ?? "", Text(f["filename"]) ?? "", Text(f["abs_path"]));
            if (source is not null && f["context_line"] is null && SessionValues.LineNumber((f["lineno"] as JValue)?.Value) is { } line)
                source.AddTo(f, (f["abs_path"] as JValue)?.Value as string, line);
        }
        return evt;
    }

    /// <summary>The exit-time shutdown: profiles stopped and sent, the queue flushed for up to shutdown_timeout.</summary>
    public void Shutdown()
    {
        if (_hub is null)
            return;
        foreach (var p in _standalone.Append(_profiling).OfType<HubProfiler>())
        {
            try
            {
                p.Shutdown();
            }
            catch (Exception e) when (e is not CallbackAbortedException)
            {
                Log("stopping the profiler at exit failed: " + e.Message);
            }
            p.Dispose();
        }
        _standalone.Clear();
        _profiling = null;
        CloseTransport();
    }

    /// <summary>Flushes for up to shutdown_timeout and stops sending (what is left stays in the cache).</summary>
    public void CloseTransport() => _hub?.Close(TimeSpan.FromSeconds(_hub.Options.ShutdownTimeout));

    public void Dispose() => Shutdown();
}
