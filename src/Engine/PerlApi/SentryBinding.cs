using Newtonsoft.Json.Linq;
using PerlSentry.Engine.Profiling;
using PerlSentry.Engine.Profiling.Sessions;
using PerlSentry.Engine.Sentry;
using PerlSentry.PerlBridge;

namespace PerlSentry.Engine.PerlApi;

/// <summary>
/// One interpreter's SDK state behind the <c>Sentry::Engine::</c> subs: its hub, its profiling,
/// and the engine objects its Perl handles point at. Runs on the interpreter's thread.
/// </summary>
internal sealed class SentryBinding
{
    private readonly PerlInterpreter _perl;
    private Hub? _hub;
    private ProfilingController? _profiling;

    public SentryBinding(PerlInterpreter perl)
    {
        _perl = perl;
        perl.Destructed += _ => CloseTransport();
    }

    public HandleTable Handles { get; } = new();

    /// <summary>The current hub; a disabled one (no transport) until init.</summary>
    public Hub Hub => _hub ??= NewHub(new SentryOptions { CacheDir = "" });

    public ProfilingController Profiling => _profiling ??= NewProfiling(Hub);

    public InAppRules InApp { get; private set; } = new(PerlInterpreter.LibraryDirs, [], []);

    private Action<string>? _log;

    public void Log(string message) => _log?.Invoke(message);

    private Hub NewHub(SentryOptions options)
    {
        _log = options.Debug ? m => Console.Error.WriteLine("[sentry] " + m) : null;
        var hub = Hub.Create(options, InterpreterClock.Instance, _log);
        hub.ThreadId = _perl.OsThreadId.ToString(System.Globalization.CultureInfo.InvariantCulture);
        hub.ThreadName = "main";
        var host = HostInfo.Current(PerlInterpreter.PerlVersion);
        hub.Client.DefaultContexts["runtime"] = new JObject { ["name"] = "perl", ["version"] = host.PerlVersion };
        hub.Client.DefaultContexts["os"] = new JObject { ["name"] = host.OsName, ["version"] = host.OsVersion };
        InApp = new InAppRules(PerlInterpreter.LibraryDirs.Concat(BundledLibDirs()), options.InAppInclude, options.InAppExclude);
        return hub;
    }

    /// <summary>The host's own Perl modules are library code too.</summary>
    private static IEnumerable<string> BundledLibDirs()
    {
        var dir = Path.Combine(AppContext.BaseDirectory, "perl", "lib");
        if (Directory.Exists(dir)) yield return dir;
        if (Environment.GetEnvironmentVariable("PERLSENTRY_PERL_LIB") is { Length: > 0 } env) yield return env;
    }

    public ProfilingController NewProfiling(Hub hub) =>
        new(hub, InterpreterSampler.For(_perl, hub.Options.InAppInclude, hub.Options.InAppExclude, [.. BundledLibDirs()]),
            HostInfo.Current(PerlInterpreter.PerlVersion), _log);

    /// <summary><c>init</c>: options from the hash (callbacks adapted), the environment from %ENV; replaces the hub.</summary>
    public void Init(IReadOnlyDictionary<string, object?> given, IReadOnlyDictionary<string, object?> env)
    {
        var adapted = given.ToDictionary(kv => kv.Key, kv => Adapt(kv.Key, kv.Value), StringComparer.Ordinal);
        SentryOptions options;
        try
        {
            options = OptionsReader.Read(adapted, name => PerlValues.Text(env.GetValueOrDefault(name)),
                warn: m => Console.Error.WriteLine(m));
        }
        catch (SentryOptionsException e)
        {
            throw new PerlException(e.Message + "\n");
        }
        Shutdown();
        _hub = NewHub(options);
        _profiling = NewProfiling(_hub);
        Log($"initialised: dsn {options.Dsn?.ToString() ?? "none"}, tracing {(options.TracingEnabled ? "on" : "off")}, "
            + $"profiling {(options.TransactionProfiling ? "transactions" : options.ContinuousProfiling ? "continuous" : "off")}, "
            + $"cache {(string.IsNullOrEmpty(options.CacheDir) ? "off" : options.CacheDir)}");
    }

    /// <summary>Code refs for the callback options become delegates that call back into Perl.</summary>
    public object? Adapt(string key, object? value)
    {
        if (value is not PerlRef { Kind: PerlRefKind.Code } code)
            return value;
        return key switch
        {
            "traces_sampler" or "profiles_sampler" => new Func<SamplingContext, double?>(ctx =>
                PerlValues.Number(Callback(key, () => code.Call(PerlValues.ToPerl(ctx.Data))))),
            "before_send" or "before_send_transaction" => EventCallback(code, key),
            _ => value,
        };
    }

    public Func<JObject, JObject?> EventCallback(PerlRef code, string what = "an event processor") => evt =>
    {
        var result = Callback(what, () => code.Call(PerlValues.ToPerl(evt)));
        return result is null ? null : PerlValues.ToJObject(result);
    };

    private int _callbackDepth;
    private readonly HashSet<string> _refusedOnce = [];

    /// <summary>
    /// Runs a user callback. Its <c>exit</c> ends the program (the SDK's call unwinds, then the
    /// program exits as Perl would); while it runs, the SDK refuses captures (see <see cref="Refuse"/>).
    /// </summary>
    private object? Callback(string what, Func<object?> call)
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
        if (_refusedOnce.Add(what))
            Console.Error.WriteLine($"Sentry::SDK: {what} called from inside an SDK callback (before_send, a sampler, an event processor) is ignored");
        return true;
    }

    /// <summary>The END-time shutdown: profiles stopped and sent, the queue flushed for up to shutdown_timeout.</summary>
    public void Shutdown()
    {
        if (_hub is null)
            return;
        try
        {
            _profiling?.Shutdown();
        }
        catch (Exception e)
        {
            Log("stopping the profiler at exit failed: " + e.Message);
        }
        _profiling?.Dispose();
        _profiling = null;
        CloseTransport();
    }

    private void CloseTransport()
    {
        var hub = _hub;
        if (hub is null)
            return;
        hub.Close(TimeSpan.FromSeconds(hub.Options.ShutdownTimeout));
    }

    /// <summary>Marks stack frames of captured exceptions as in-app or not, where Perl left it open.</summary>
    public JObject MarkInApp(JObject evt)
    {
        var frames = evt.SelectTokens("exception.values[*].stacktrace.frames[*]")
            .Concat(evt.SelectTokens("threads.values[*].stacktrace.frames[*]"));
        foreach (var f in frames.OfType<JObject>())
        {
            if (f["in_app"] is not null)
                continue;
            f["in_app"] = InApp.IsInApp((string?)f["module"] ?? "", (string?)f["filename"] ?? "", (string?)f["abs_path"]);
        }
        return evt;
    }
}
