using PerlSentry.Engine.Profiling;

namespace PerlSentry.Engine.Agent;

/// <summary>
/// One client process: its interpreters (ithreads) are sessions of their own, but share one profile
/// store, so a profile shows every thread of the process that ran. Kept while a session of it is open.
/// </summary>
internal sealed class ClientProcess(int pid, IEnumerable<string> libraryDirs, string cwd)
{
    public int Pid { get; } = pid;

    public int Sessions { get; set; }

    public ProfileStore Store { get; } = new();

    private SampleNeeds? _needs;

    public FrameResolver Frames { get; } = new(libraryDirs, cwd);

    /// <summary>Keeps the samples some session's profiler still needs (see <see cref="Profiling.Sessions.ISampler.Retain"/>).</summary>
    public void Retain(object owner, IReadOnlyList<TimeWindow> windows) =>
        LazyInitializer.EnsureInitialized(ref _needs, () => new SampleNeeds(Store)).Set(owner, windows);
}
