using System.Runtime.CompilerServices;
using PerlSentry.PerlBridge;

namespace PerlSentry.Engine.Profiling.Sessions;

/// <summary>
/// The one sampler of an in-process interpreter, shared by every profile on it (the SDK's, a
/// standalone profiler's, <c>perl-sentry profile</c>'s): the first <see cref="Acquire"/> starts
/// sampling and the drain (a 1 s timer), the last <see cref="Release"/> stops both <see cref="Linger"/> later. Frames get
/// <c>in_app</c> from perl's library directories only; each profiler decides its own at export.
/// </summary>
public sealed class InterpreterSampler : ISampler, IDisposable
{
    private static readonly ConditionalWeakTable<PerlInterpreter, InterpreterSampler> PerInterpreter = [];
    private readonly PerlInterpreter _perl;
    private readonly Profiler _profiler;
    private readonly Lock _gate = new();
    private Timer? _drain;
    private int _users;

    private InterpreterSampler(PerlInterpreter perl, IReadOnlyList<string> libraryDirs)
    {
        _perl = perl;
        ThreadId = perl.OsThreadId;
        _profiler = new Profiler(new ProfilerOptions { LibraryDirs = libraryDirs });
        _profiler.Attach(perl, ThreadName);
    }

    /// <summary>The interpreter's sampler (made on first use). <paramref name="libraryDirs"/>: directories besides perl's own that hold library code.</summary>
    public static InterpreterSampler For(PerlInterpreter perl, IReadOnlyList<string> libraryDirs) =>
        PerInterpreter.GetValue(perl, p => new InterpreterSampler(p, libraryDirs));

    public long ThreadId { get; }

    public string ThreadName => _perl.ThreadName;

    public ProfileStore Store => _profiler.Store;

    public long NowNs => _profiler.NowNs;

    public bool IsSampling => _profiler.IsRunning;

    public event Action? Drained;

    /// <summary>
    /// How long sampling goes on after the last user let go: a profile that starts within it (the next
    /// request's, the next job's) finds the sampler running and pays no start or stop on the Perl thread.
    /// Samples nobody needs are dropped at the next drain; a sample costs the Perl thread ~0.5 µs.
    /// </summary>
    public static readonly TimeSpan Linger = TimeSpan.FromSeconds(2);

    private long _idleSinceMs;

    public void Acquire(int samplingIntervalUs, int maxStackDepth)
    {
        lock (_gate)
        {
            if (_users++ > 0)
                return;
            if (_profiler.IsRunningWith(samplingIntervalUs, maxStackDepth))
                return;   // still lingering with these settings
            _profiler.Stop();   // lingering with others (nothing when stopped)
            _profiler.Start(samplingIntervalUs, maxStackDepth);
            // Once a second keeps the native buffers small (about 100 samples each) at little CPU.
            _drain ??= new Timer(_ => OnDrain(), null, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
        }
    }

    /// <summary>Lets go of the sampler; the last user's release stops it after <see cref="Linger"/> (at a drain).</summary>
    public void Release()
    {
        lock (_gate)
        {
            if (_users == 0 || --_users > 0)
                return;
            _idleSinceMs = Environment.TickCount64;
        }
    }

    private void OnDrain()
    {
        try
        {
            lock (_gate)
            {
                if (_users == 0 && _profiler.IsRunning && Environment.TickCount64 - _idleSinceMs >= Linger.TotalMilliseconds)
                {
                    _drain?.Dispose();
                    _drain = null;
                    _profiler.Stop();
                }
            }
            _profiler.Flush();
            Drained?.Invoke();
        }
        catch (ObjectDisposedException)
        {
            // the interpreter went away between ticks
        }
        catch (Exception e)
        {
            // A timer's callback that throws ends the process: the program must not pay for a drain.
            System.Diagnostics.Trace.TraceError($"perl-sentry: the sampler's drain failed: {e}");
        }
    }

    public void Mark() => _profiler.SampleNow(_perl, ProfileFrame.IsSdkFrame);

    public void Drain() => _profiler.Flush();

    private SampleNeeds? _needs;

    public void Retain(object owner, IReadOnlyList<TimeWindow> windows) =>
        LazyInitializer.EnsureInitialized(ref _needs, () => new SampleNeeds(_profiler.Store)).Set(owner, windows);

    public void Dispose()
    {
        lock (_gate)
        {
            _drain?.Dispose();
            _drain = null;
        }
        _profiler.Dispose();
    }
}
