using System.Runtime.CompilerServices;
using PerlSentry.PerlBridge;

namespace PerlSentry.Engine.Profiling.Sessions;

/// <summary>
/// The one sampler of an in-process interpreter, shared by every profile on it (the SDK's, a
/// standalone profiler's, <c>perl-sentry profile</c>'s): the first <see cref="Acquire"/> starts
/// sampling and the drain (a 1 s timer), the last <see cref="Release"/> stops both. Frames get
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

    public void Acquire(int samplingIntervalUs, int maxStackDepth)
    {
        lock (_gate)
        {
            if (_users++ > 0)
                return;
            _profiler.Start(samplingIntervalUs, maxStackDepth);
            // Once a second keeps the native buffers small (about 100 samples each) at little CPU.
            _drain = new Timer(_ => OnDrain(), null, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
        }
    }

    public void Release()
    {
        lock (_gate)
        {
            if (_users == 0 || --_users > 0)
                return;
            _drain?.Dispose();
            _drain = null;
            _profiler.Stop();
        }
    }

    private void OnDrain()
    {
        try
        {
            _profiler.Flush();
            Drained?.Invoke();
        }
        catch (ObjectDisposedException)
        {
            // the interpreter went away between ticks
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
