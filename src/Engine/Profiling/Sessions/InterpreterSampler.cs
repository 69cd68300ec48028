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

    private InterpreterSampler(PerlInterpreter perl, IReadOnlyList<string> include, IReadOnlyList<string> exclude, IReadOnlyList<string> libraryDirs)
    {
        _perl = perl;
        _inAppInclude = include;
        _inAppExclude = exclude;
        _libraryDirs = libraryDirs;
        ThreadId = perl.OsThreadId;
    }

    /// <summary>The interpreter's sampler; the in_app rules of the first caller stay.</summary>
    public static InterpreterSampler For(PerlInterpreter perl, IReadOnlyList<string> inAppInclude, IReadOnlyList<string> inAppExclude, IReadOnlyList<string> libraryDirs) =>
        PerInterpreter.GetValue(perl, p => new InterpreterSampler(p, inAppInclude, inAppExclude, libraryDirs));

    public long ThreadId { get; }

    public string ThreadName => "main";

    public ProfileStore Store => Profiler(ProfilerDefaults).Store;

    public long NowNs => Profiler(ProfilerDefaults).NowNs;

    public bool IsSampling => _profiler?.IsRunning == true;

    private static readonly ProfilerOptions ProfilerDefaults = new();

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
        var p = Profiler(ProfilerDefaults);
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
