namespace PerlSentry.Engine.Profiling;

/// <summary>Sampling settings (the seed plan's names: <c>sampling_interval_us</c>, <c>max_stack_depth</c>, …).</summary>
public sealed record ProfilerOptions
{
    /// <summary>Default 101 Hz: off the 100 Hz grid so it does not beat with periodic work.</summary>
    public int SamplingIntervalUs { get; init; } = 1_000_000 / 101;

    public int MaxStackDepth { get; init; } = 100;

    /// <summary>Extra directories whose files are not the application's (the host's bundled modules).</summary>
    public IReadOnlyList<string> LibraryDirs { get; init; } = [];

    public void Validate()
    {
        if (SamplingIntervalUs is < 100 or > 10_000_000)
            throw new ArgumentOutOfRangeException(nameof(SamplingIntervalUs), SamplingIntervalUs,
                "sampling_interval_us must be between 100 (10 kHz) and 10000000 (one sample in 10 s)");
        if (MaxStackDepth is < 1 or > 10_000)
            throw new ArgumentOutOfRangeException(nameof(MaxStackDepth), MaxStackDepth, "max_stack_depth must be between 1 and 10000");
    }
}
