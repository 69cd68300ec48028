namespace PerlSentry.Engine.Profiling.Sessions;

/// <summary>
/// The sampled interpreter as a session's profilers see it: shared by every profile that needs it
/// (reference counted), with one store and one drain. Acquire, Release and Mark run on the
/// interpreter's thread (in-process) or are carried out by the client (the agent).
/// </summary>
public interface ISampler
{
    /// <summary>The sampled thread's id (samples' <c>thread_id</c>, <c>contexts.trace.data["thread.id"]</c>).</summary>
    long ThreadId { get; }

    string ThreadName { get; }

    ProfileStore Store { get; }

    /// <summary>Now, on the samples' clock (Unix ns).</summary>
    long NowNs { get; }

    bool IsSampling { get; }

    /// <summary>Starts sampling if no one else has.</summary>
    void Acquire(int samplingIntervalUs, int maxStackDepth);

    /// <summary>Stops sampling when the last user lets go (in-process: <see cref="InterpreterSampler.Linger"/> later).</summary>
    void Release();

    /// <summary>
    /// Takes a sample now (a marker), leaving out the SDK's own frames at the leaf. It is in
    /// <see cref="Store"/> after the next <see cref="Drain"/>, with what was sampled before it.
    /// </summary>
    void Mark();

    /// <summary>Moves what was sampled into <see cref="Store"/>. Any thread.</summary>
    void Drain();

    /// <summary>
    /// Raised about once a second while sampling, after a drain, on a thread of its own: the one drain
    /// every profiler of the sampler follows (to cut chunks, expire profiles and say what to keep).
    /// </summary>
    event Action? Drained;

    /// <summary>
    /// Says which time windows (Unix ns, inclusive) <paramref name="owner"/> still needs samples of, and
    /// forgets the samples no owner needs. Several profilers may share one sampler.
    /// </summary>
    void Retain(object owner, IReadOnlyList<TimeWindow> windows);
}
