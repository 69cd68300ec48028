namespace PerlSentry.Engine.Profiling;

/// <summary>
/// Which time windows (Unix ns, inclusive) of one store's samples each profiler still needs
/// (<see cref="Sessions.ISampler.Retain"/>): the samples no window holds are forgotten. Thread-safe.
/// </summary>
public sealed class SampleNeeds(ProfileStore store)
{
    private readonly Dictionary<object, IReadOnlyList<TimeWindow>> _needs = new(ReferenceEqualityComparer.Instance);
    private long _walkedMs = long.MinValue / 2;

    /// <summary>How often at most the store is walked to forget what no one needs.</summary>
    public TimeSpan WalkEvery { get; init; } = TimeSpan.FromMilliseconds(250);

    /// <summary>
    /// Says what <paramref name="owner"/> needs now (none: it is forgotten) and trims the store, unless
    /// its needs only grew (a profile started): then nothing can have become unneeded, and the store
    /// is not walked; nor is it when it was less than <see cref="WalkEvery"/> ago and something is still needed. A profiler says so at once when a profile starts, so that another profiler's
    /// trim (another ithread's session sharing the process's store) cannot take the new one's samples.
    /// </summary>
    public void Set(object owner, IReadOnlyList<TimeWindow> windows)
    {
        TimeWindow[] all;
        lock (_needs)
        {
            var before = _needs.GetValueOrDefault(owner);
            if (windows.Count == 0)
                _needs.Remove(owner);
            else
                _needs[owner] = windows;
            if (windows.Count > 0 && (before is null || before.All(old => windows.Any(w => w.From <= old.From && old.To <= w.To))))
                return;   // only grew
            // While anything is needed, a walk over the store at most every WalkEvery: a busy server
            // finishes profiles that overlap others all the time, and what they no longer need can wait
            // that long (the drain's tick comes every second). When nothing is, all goes at once.
            var now = Environment.TickCount64;
            if (_needs.Count > 0 && now - _walkedMs < WalkEvery.TotalMilliseconds)
                return;
            _walkedMs = now;
            all = [.. _needs.Values.SelectMany(w => w)];
        }
        store.Retain(all);
    }
}
