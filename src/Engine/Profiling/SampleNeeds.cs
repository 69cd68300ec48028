namespace PerlSentry.Engine.Profiling;

/// <summary>
/// Which time windows (Unix ns, inclusive) of one store's samples each profiler still needs
/// (<see cref="Sessions.ISampler.Retain"/>): the samples no window holds are forgotten. Thread-safe.
/// </summary>
public sealed class SampleNeeds(ProfileStore store)
{
    private readonly Dictionary<object, IReadOnlyList<TimeWindow>> _needs = new(ReferenceEqualityComparer.Instance);

    /// <summary>
    /// Says what <paramref name="owner"/> needs now (none: it is forgotten) and trims the store, unless
    /// its needs only grew (a profile started): then nothing can have become unneeded, and the store
    /// is not walked. A profiler says so at once when a profile starts, so that another profiler's
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
            all = [.. _needs.Values.SelectMany(w => w)];
        }
        store.Retain(s => all.Any(w => s.TimestampNs >= w.From && s.TimestampNs <= w.To));
    }
}
