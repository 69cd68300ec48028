using PerlSentry.PerlBridge;

namespace PerlSentry.Engine.Profiling;

/// <summary>
/// Samples one or more interpreters into a <see cref="ProfileStore"/>: each interpreter is a
/// thread of the profile. Its owner drains it (<see cref="Flush"/>, about once a second keeps the
/// native buffers small); it drains itself at <see cref="Stop"/> and when an interpreter is
/// destructed (END blocks included). Frames get <c>in_app</c> from the library directories alone;
/// profilers with include/exclude options decide again at export (<see cref="ProfileSnapshot.WithInApp"/>).
/// </summary>
public sealed class Profiler : IDisposable
{
    private readonly Lock _gate = new();
    private readonly List<PerlInterpreter> _attached = [];
    private readonly FrameResolver _frames;
    private readonly long _monoToUnix;
    private bool _running;
    private int _intervalUs;
    private int _maxDepth;

    public Profiler(ProfilerOptions options)
    {
        options.Validate();
        Options = options;
        Store = new ProfileStore { Interval = TimeSpan.FromMicroseconds(options.SamplingIntervalUs) };
        _frames = new FrameResolver(PerlInterpreter.LibraryDirs.Concat(options.LibraryDirs), Environment.CurrentDirectory);
        var (mono, unix) = PerlInterpreter.Clock();
        _monoToUnix = unix - mono;
    }

    public ProfilerOptions Options { get; }

    /// <summary>Now, on the clock sample timestamps use (Unix ns).</summary>
    public long NowNs => PerlInterpreter.Clock().MonotonicNs + _monoToUnix;

    public ProfileStore Store { get; }

    public bool IsRunning => _running;

    /// <summary>Whether it samples now at this interval and depth.</summary>
    public bool IsRunningWith(int samplingIntervalUs, int maxStackDepth)
    {
        lock (_gate)
            return _running && _intervalUs == samplingIntervalUs && _maxDepth == maxStackDepth;
    }

    /// <summary>Adds an interpreter as a thread of the profile; it is sampled while the profiler runs.</summary>
    public void Attach(PerlInterpreter perl, string threadName)
    {
        lock (_gate)
        {
            _attached.Add(perl);
            Store.NameThread(perl.OsThreadId, threadName);
            perl.Destructed += OnDestructed;
            if (_running)
                StartOn(perl);
        }
    }

    public void Start() => Start(Options.SamplingIntervalUs, Options.MaxStackDepth);

    /// <summary>Starts sampling at this interval and depth (the SDK's options may differ from the profiler's defaults).</summary>
    public void Start(int samplingIntervalUs, int maxStackDepth)
    {
        (Options with { SamplingIntervalUs = samplingIntervalUs, MaxStackDepth = maxStackDepth }).Validate();
        lock (_gate)
        {
            if (_running)
                return;
            _intervalUs = samplingIntervalUs;
            _maxDepth = maxStackDepth;
            Store.Interval = TimeSpan.FromMicroseconds(samplingIntervalUs);
            _running = true;
            foreach (var p in _attached)
                StartOn(p);
        }
    }

    /// <summary>Stops sampling and drains what was taken.</summary>
    public void Stop()
    {
        lock (_gate)
        {
            if (!_running)
                return;
            _running = false;
            foreach (var p in _attached.Where(p => !p.IsDisposed))
            {
                try { p.StopSampling(); }
                catch (ObjectDisposedException) { }
            }
        }
        DrainAll();
    }

    /// <summary>Drains everything sampled so far into the store (any thread).</summary>
    public void Flush() => DrainAll();

    /// <summary>
    /// Takes a sample at once (a profile's first and last) when sampling is on: only the stack walk,
    /// on the interpreter's thread; it reaches the store with the next drain, which may run on any
    /// thread. Called from inside an SDK call, so the innermost frames for which
    /// <paramref name="isOwnFrame"/> holds (the SDK's own subs, found by position at the leaf) are left
    /// out of that sample when it is drained.
    /// </summary>
    public void SampleNow(PerlInterpreter perl, Func<ProfileFrame, bool> isOwnFrame)
    {
        _isOwnFrame = isOwnFrame;
        if (_running)
            perl.SampleNow();
    }

    private volatile Func<ProfileFrame, bool>? _isOwnFrame;

    private void StartOn(PerlInterpreter perl) =>
        perl.StartSampling(TimeSpan.FromMicroseconds(_intervalUs), _maxDepth);

    private void OnDestructed(PerlInterpreter perl)
    {
        Drain(perl);
        lock (_gate) _attached.Remove(perl);
    }

    private void DrainAll()
    {
        PerlInterpreter[] all;
        lock (_gate) all = [.. _attached];
        foreach (var p in all)
            Drain(p);
    }

    private readonly Lock _draining = new();

    /// <summary>
    /// Moves what <paramref name="perl"/> recorded into the store. One drain at a time: a drain that
    /// returns has added everything recorded before it started (another thread's drain may have taken
    /// the records a moment earlier; it is waited for).
    /// </summary>
    private void Drain(PerlInterpreter perl)
    {
        lock (_draining)
        {
            var raw = new List<PerlSample>();
            perl.DrainSamples(raw);
            if (raw.Count > 0)
                _frames.AddTo(Store, raw, perl.OsThreadId, _monoToUnix, _isOwnFrame);
        }
    }

    public void Dispose()
    {
        Stop();
        lock (_gate)
        {
            foreach (var p in _attached)
                p.Destructed -= OnDestructed;
            _attached.Clear();
        }
    }
}
