namespace PerlSentry.Engine.Profiling;

/// <summary>One stored sample: indexes into the store's stacks and threads, a wall-clock time and a weight.</summary>
/// <param name="StackId">Index into <see cref="ProfileStore.Stacks"/>.</param>
/// <param name="ThreadId">The OS thread id of the interpreter's thread.</param>
/// <param name="TimestampNs">Unix time in ns of the first tick the sample stands for.</param>
/// <param name="Weight">The sampler ticks it stands for; 0 for a marker (a profile's start or end, taken inside an SDK call, not by the timer).</param>
public readonly record struct ProfileSample(int StackId, long ThreadId, long TimestampNs, int Weight);
