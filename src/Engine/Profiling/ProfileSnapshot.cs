namespace PerlSentry.Engine.Profiling;

/// <summary>An immutable view of a <see cref="ProfileStore"/>: what every exporter takes.</summary>
public sealed record ProfileSnapshot(
    IReadOnlyList<ProfileFrame> Frames,
    IReadOnlyList<int[]> Stacks,
    IReadOnlyList<ProfileSample> Samples,
    IReadOnlyDictionary<long, string> Threads,
    TimeSpan Interval)
{
    public long TotalWeight => Samples.Sum(s => (long)s.Weight);

    /// <summary>The stack of a sample as frames, innermost first.</summary>
    public IEnumerable<ProfileFrame> FramesOf(ProfileSample s) => Stacks[s.StackId].Select(i => Frames[i]);

    /// <summary>
    /// The same profile with <c>in_app</c> decided by <paramref name="rules"/>: a store is shared by
    /// profilers with different options, so each decides at export.
    /// </summary>
    public ProfileSnapshot WithInApp(InAppRules rules) => this with
    {
        Frames = [.. Frames.Select(f => f with { InApp = rules.IsInApp(f.Module, f.FileName, f.AbsPath) })],
    };
}
