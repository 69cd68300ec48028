namespace PerlSentry.Engine.Profiling;

/// <summary>An immutable view of a <see cref="ProfileStore"/>: what every exporter takes.</summary>
public sealed record ProfileSnapshot(
    IReadOnlyList<ProfileFrame> Frames,
    IReadOnlyList<int[]> Stacks,
    IReadOnlyList<ProfileSample> Samples,
    IReadOnlyDictionary<long, string> Threads,
    TimeSpan Interval)
{
    /// <summary>The sampler ticks the samples stand for (markers stand for none).</summary>
    public long TotalWeight => Samples.Sum(s => (long)s.Weight);

    /// <summary>How many samples Sentry's formats get (one per tick, and one per marker: <see cref="Export.SentryProfileWriter.PerTick"/>).</summary>
    public long WrittenSamples => Samples.Sum(s => (long)Math.Max(1, s.Weight));

    /// <summary>
    /// The timer's samples only, for what weighs time by ticks (flame graph, lines, speedscope, the
    /// collapsed stacks): a marker is a profile's start or end taken inside an SDK call, not a tick,
    /// and a program that runs many profiled transactions takes two per transaction.
    /// </summary>
    public ProfileSnapshot Ticks() => this with { Samples = [.. Samples.Where(s => s.Weight > 0)] };

    /// <summary>The stack of a sample as frames, innermost first.</summary>
    public IEnumerable<ProfileFrame> FramesOf(ProfileSample s) => Stacks[s.StackId].Select(i => Frames[i]);

    /// <summary>
    /// The same profile with <c>in_app</c> decided by <paramref name="rules"/>: a store is shared by
    /// profilers with different options, so each decides at export.
    /// A view, decided as each frame is read: a profile reads the few frames its samples use, while the
    /// store holds every frame the process has seen (copying them all cost each profile ~7 µs on a small
    /// app and grew with the app).
    /// </summary>
    public ProfileSnapshot WithInApp(InAppRules rules) => this with { Frames = new InAppFrames(Frames, rules) };

    /// <summary>Frames with in_app decided on first read, once per frame for all profiles (<see cref="InAppRules.Decide"/>).</summary>
    private sealed class InAppFrames(IReadOnlyList<ProfileFrame> frames, InAppRules rules) : IReadOnlyList<ProfileFrame>
    {
        private readonly int _count = frames.Count;   // the snapshot's frames; the store may have more by now

        public ProfileFrame this[int index]
        {
            get
            {
                ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)index, (uint)_count, nameof(index));
                return rules.Decide(frames[index]);
            }
        }

        public int Count => _count;

        public IEnumerator<ProfileFrame> GetEnumerator()
        {
            for (var i = 0; i < Count; i++)
                yield return this[i];
        }

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }
}
