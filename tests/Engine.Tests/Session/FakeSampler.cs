using PerlSentry.Engine.Profiling;
using PerlSentry.Engine.Profiling.Sessions;
using PerlSentry.Engine.Sentry;

namespace PerlSentry.Engine.Tests.Session;

/// <summary>
/// A sampler with no interpreter: time moves when the test says, a sample of <see cref="Stack"/> is
/// taken every 10 ms while anyone holds it, and <see cref="Mark"/> takes one at once (a marker, of no
/// ticks). As the native sampler does, it records them, and <see cref="Drain"/> (and the tick every
/// second) moves them into the store.
/// </summary>
internal sealed class FakeSampler : ISampler, IClock
{
    public static readonly ProfileFrame Main = new("main", "main", "app.pl", "/srv/app.pl", 3, true);
    public static readonly ProfileFrame Work = new("main::work", "main", "app.pl", "/srv/app.pl", 9, true);
    public static readonly ProfileFrame Lib = new("List::Util::sum", "List::Util", "/usr/lib/List/Util.pm", "/usr/lib/List/Util.pm", 1, false);

    private SampleNeeds? _needs;

    public long Now { get; private set; } = 1_800_000_000_000_000_000;

    public long ThreadId => 42;

    public string ThreadName => "main";

    public ProfileStore Store { get; } = new();

    public long NowNs => Now;

    public long UnixNs => Now;

    public bool IsSampling => Users > 0;

    public int Users { get; private set; }

    public int Acquires { get; private set; }

    public int Marks { get; private set; }

    public IReadOnlyList<ProfileFrame> Stack { get; set; } = [Work, Main];

    public event Action? Drained;

    public void Acquire(int samplingIntervalUs, int maxStackDepth)
    {
        Users++;
        Acquires++;
    }

    public void Release()
    {
        if (Users == 0)
            throw new InvalidOperationException("released more often than acquired");
        Users--;
    }

    private readonly List<(IReadOnlyList<ProfileFrame> Stack, long At, int Weight)> _recorded = [];

    public void Mark()
    {
        Marks++;
        if (IsSampling)
            lock (_recorded) _recorded.Add((Stack, Now, 0));
    }

    public void Drain()
    {
        lock (_recorded)
        {
            foreach (var (stack, at, weight) in _recorded)
                Store.Add(stack, ThreadId, at, weight);
            _recorded.Clear();
        }
    }

    public void Retain(object owner, IReadOnlyList<TimeWindow> windows) =>
        LazyInitializer.EnsureInitialized(ref _needs, () => new SampleNeeds(Store)).Set(owner, windows);

    /// <summary>Time passes: a sample every 10 ms while sampling, and a drain every second crossed.</summary>
    public void Advance(TimeSpan t)
    {
        var end = Now + (long)t.TotalNanoseconds;
        while (Now + 10_000_000 <= end)
        {
            var before = Now / 1_000_000_000;
            Now += 10_000_000;
            if (IsSampling)
                lock (_recorded) _recorded.Add((Stack, Now, 1));
            if (Now / 1_000_000_000 != before)
            {
                Drain();
                Drained?.Invoke();
            }
        }
        Now = end;
    }
}
