using System.Runtime.CompilerServices;
using PerlSentry.PerlBridge;

namespace PerlSentry.Engine.Profiling.Sessions;

/// <summary>
/// One <see cref="Profiler"/> per interpreter, shared by every SDK profile on it: the first
/// <see cref="Acquire"/> starts sampling, the last <see cref="Release"/> stops it.
/// </summary>
public sealed class InterpreterSampler : ISampler
{
    private static readonly ConditionalWeakTable<PerlInterpreter, InterpreterSampler> PerInterpreter = [];
    private readonly PerlInterpreter _perl;
    private readonly IReadOnlyList<string> _inAppInclude;
    private readonly IReadOnlyList<string> _inAppExclude;
    private readonly IReadOnlyList<string> _libraryDirs;
    private Profiler? _profiler;
    private int _users;

    private InterpreterSampler(PerlInterpreter perl, IReadOnlyList<string> include, IReadOnlyList<string> exclude, IReadOnlyList<string> libraryDirs, int samplingIntervalUs)
    {
        _defaults = new ProfilerOptions { SamplingIntervalUs = samplingIntervalUs };
        _perl = perl;
        _inAppInclude = include;
        _inAppExclude = exclude;
        _libraryDirs = libraryDirs;
        ThreadId = perl.OsThreadId;
    }

    /// <summary>The interpreter's sampler; the in_app rules (and the store's nominal interval) of the first caller stay.</summary>
    public static InterpreterSampler For(PerlInterpreter perl, IReadOnlyList<string> inAppInclude, IReadOnlyList<string> inAppExclude,
        IReadOnlyList<string> libraryDirs, int samplingIntervalUs = 1_000_000 / 101) =>
        PerInterpreter.GetValue(perl, p => new InterpreterSampler(p, inAppInclude, inAppExclude, libraryDirs, samplingIntervalUs));

    public long ThreadId { get; }

    public string ThreadName => "main";

    public ProfileStore Store => Profiler(_defaults).Store;

    public long NowNs => Profiler(_defaults).NowNs;

    public bool IsSampling => _profiler?.IsRunning == true;

    private readonly ProfilerOptions _defaults;

    private Profiler Profiler(ProfilerOptions options)
    {
        if (_profiler is not null)
            return _profiler;
        _profiler = new Profiler(options with { InAppInclude = _inAppInclude, InAppExclude = _inAppExclude, LibraryDirs = _libraryDirs });
        _profiler.Attach(_perl, ThreadName);
        return _profiler;
    }

    public void Acquire(int samplingIntervalUs, int maxStackDepth)
    {
        var p = Profiler(_defaults);
        if (_users++ == 0)
            p.Start(samplingIntervalUs, maxStackDepth);
    }

    public void Release()
    {
        if (_users == 0)
            return;
        if (--_users == 0)
            _profiler?.Stop();
    }

    public void Mark() => _profiler?.SampleNow(_perl, IsSdkFrame);

    /// <summary>The SDK's own subs (Sentry::…, PerlSentry::…), dropped from the leaf of a marker sample.</summary>
    private static bool IsSdkFrame(ProfileFrame f) =>
        f.Module.StartsWith("Sentry::", StringComparison.Ordinal) || f.Module == "Sentry"
        || f.Module.StartsWith("PerlSentry", StringComparison.Ordinal);

    public void Drain() => _profiler?.Flush();

    private readonly Dictionary<object, IReadOnlyList<(long From, long To)>> _needs = new(ReferenceEqualityComparer.Instance);

    public void Retain(object owner, IReadOnlyList<(long From, long To)> windows)
    {
        (long From, long To)[] all;
        lock (_needs)
        {
            _needs[owner] = windows;
            all = [.. _needs.Values.SelectMany(w => w)];
        }
        _profiler?.Store.Retain(s => all.Any(w => s.TimestampNs >= w.From && s.TimestampNs <= w.To));
    }
}
