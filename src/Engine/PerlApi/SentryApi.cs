using System.Globalization;
using System.Runtime.CompilerServices;
using PerlSentry.Engine.Profiling.Sessions;
using PerlSentry.Engine.Sentry;
using PerlSentry.Engine.Session;
using PerlSentry.PerlBridge;

namespace PerlSentry.Engine.PerlApi;

/// <summary>
/// The in-process front end of the seam: the <c>Sentry::Engine::</c> subs that perl/lib/Sentry/*.pm
/// are thin handles over, each a call of <see cref="SessionCalls"/> on the interpreter's one
/// <see cref="EngineSession"/>. A .NET host can drive the same session's hub directly.
/// </summary>
public static class SentryApi
{
    /// <summary>
    /// Each installed interpreter's session, made at its first use (an engine call, or a .NET host
    /// asking for its hub): making one cost ~10 ms of every perl-sentry start (host facts, the writer's
    /// thread, the session itself), which a program that never calls the SDK does not pay now.
    /// </summary>
    private static readonly ConditionalWeakTable<PerlInterpreter, Lazy<EngineSession>> Sessions = [];

    /// <summary>The calls the Perl modules make (see <see cref="SessionCalls.Call"/>).</summary>
    public static readonly IReadOnlyList<string> Names =
    [
        "available", "init", "is_enabled", "flush", "close", "shutdown", "last_event_id", "capture_event", "add_breadcrumb",
        "log", "release", "scope_push", "scope_pop", "scope_new", "scope_set", "scope_get", "transaction_start",
        "span_start", "span_set", "span_get", "transaction_finish", "profiler_call", "snapshot",
    ];

    /// <summary>The session of an interpreter (its <c>Sentry::SDK-&gt;init</c> decides the options).</summary>
    public static EngineSession SessionOf(PerlInterpreter perl) =>
        Sessions.TryGetValue(perl, out var s) ? s.Value : throw new InvalidOperationException("SentryApi is not installed in this interpreter");

    /// <summary>Whether the interpreter's session was made (its first engine call, or <see cref="SessionOf"/>).</summary>
    internal static bool HasSession(PerlInterpreter perl) => MadeSession(perl) is not null;

    /// <summary>The interpreter's session if it was made, without making it.</summary>
    private static EngineSession? MadeSession(PerlInterpreter perl) =>
        Sessions.TryGetValue(perl, out var s) && s.IsValueCreated ? s.Value : null;

    /// <summary>The hub of an interpreter's session.</summary>
    public static Hub HubOf(PerlInterpreter perl) => SessionOf(perl).Hub;

    /// <summary>Stops profiles and flushes, as the SDK's END block does (for hosts that never run END).</summary>
    public static void Shutdown(PerlInterpreter perl)
    {
        if (MadeSession(perl) is { } s)
            perl.Invoke(() => { s.Shutdown(); return 0; });
    }

    public static void Install(PerlInterpreter perl)
    {
        var session = Sessions.GetValue(perl, p => new Lazy<EngineSession>(() => NewSession(p)));
        ConfigureForks();
        foreach (var name in Names)
        {
            perl.DefineSub("Sentry::Engine::" + name, a =>
            {
                try
                {
                    return SessionCalls.Call(session.Value, name, a);
                }
                catch (SessionCallException e)
                {
                    throw new PerlException(e.Message + "\n");
                }
                catch (CallbackAbortedException e) when (e.InnerException is PerlExitException exit)
                {
                    throw exit;   // a callback called exit: the program ends now, as it asked
                }
            });
        }
    }

    private static int _forksConfigured;

    /// <summary>
    /// Forked children have no CLR: they continue as clients of the agent (<c>perl-sentry agent</c>,
    /// the launcher next to this program) from a snapshot of the forking interpreter's session.
    /// </summary>
    private static void ConfigureForks()
    {
        if (Interlocked.Exchange(ref _forksConfigured, 1) == 1)
            return;
        PerlInterpreter.ForkSnapshot = perl =>
        {
            if (MadeSession(perl) is not { Given: not null } s)
                return null;   // never initialised: the child starts fresh
            return s.SnapshotBytes();
        };
        PerlInterpreter.ConfigureForkedChildren(Path.Combine(AppContext.BaseDirectory, "perl-sentry"));
    }

    /// <summary>
    /// Where the engine's warnings (and <c>debug</c> output) go in this process; null: the program's
    /// STDERR. A .NET service points it at its logger.
    /// </summary>
    public static Action<string>? Warnings { get; set; }

    /// <summary>Says <paramref name="message"/> where the engine's warnings go (<see cref="Warnings"/>).</summary>
    public static void Warn(string message) => (Warnings ?? Console.Error.WriteLine)(message);

    private static EngineSession NewSession(PerlInterpreter perl)
    {
        var session = new EngineSession(new SessionHost(
            () => InterpreterSampler.For(perl, [.. BundledLibDirs()]),
            InterpreterClock.Instance,
            HostInfo.Current(PerlInterpreter.PerlVersion),
            perl.OsThreadId.ToString(CultureInfo.InvariantCulture),
            perl.ThreadName,
            [.. PerlInterpreter.LibraryDirs, .. BundledLibDirs()],
            Warn)
        {
            // Envelopes are written off the program's thread (PERLSENTRY_WRITER=0: on it).
            Writer = Environment.GetEnvironmentVariable("PERLSENTRY_WRITER") == "0" ? null : CaptureWriter.Shared,
        })
        {
            TokenOf = r => r is PerlRef p ? perl.ClientToken(p) : 0,
        };
        // The END block's flush may not run (a host that never destructs cleanly): close the transport at destruct.
        perl.Destructed += _ => session.CloseTransport();
        return session;
    }

    /// <summary>The host's own Perl modules are library code too.</summary>
    private static IEnumerable<string> BundledLibDirs()
    {
        var dir = Path.Combine(AppContext.BaseDirectory, "perl", "lib");
        if (Directory.Exists(dir)) yield return dir;
        if (Environment.GetEnvironmentVariable("PERLSENTRY_PERL_LIB") is { Length: > 0 } env) yield return env;
    }
}
