using PerlSentry.Engine.Profiling;
using PerlSentry.Engine.Profiling.Sessions;

namespace PerlSentry.Engine.Agent;

/// <summary>
/// The sampler of an interpreter in a client process, as the agent's profilers see it. The client
/// samples; this side decides: <see cref="Acquire"/> and <see cref="Release"/> become commands in
/// the reply to the call that made them, which the client carries out before it goes on (and it
/// takes a marker sample after each acquire and before each call that may end a profile, so
/// <see cref="Mark"/> has nothing to do here). Samples arrive in SAMPLES frames, in order with the
/// calls, into the process's shared store.
/// </summary>
internal sealed class RemoteSampler(ClientProcess process, long threadId, string threadName, CallClock clock) : ISampler
{
    private readonly List<(byte Op, int IntervalUs, int Depth)> _commands = [];
    private int _users;
    private int _ahead;

    public long ThreadId { get; } = threadId;

    public string ThreadName { get; } = threadName;

    public ProfileStore Store => process.Store;

    public long NowNs => clock.UnixNs;

    public bool IsSampling => _users > 0;

    public event Action? Drained;

    public void Acquire(int samplingIntervalUs, int maxStackDepth)
    {
        _users++;
        Store.Interval = TimeSpan.FromMicroseconds(samplingIntervalUs);
        Store.NameThread(ThreadId, ThreadName);
        if (_ahead > 0)
        {
            _ahead--;   // the client took it already
            return;
        }
        lock (_commands) _commands.Add((AgentProtocol.CommandAcquire, samplingIntervalUs, maxStackDepth));
    }

    /// <summary>
    /// The call about to run is a transaction start for which the client took its sampler ahead
    /// (it does not wait for the decision): an acquire the call makes is that one.
    /// </summary>
    public void TakenAhead() => _ahead++;

    /// <summary>After such a call: a sampler the client took that nothing here acquired goes back (in the next ACK).</summary>
    public void SettleAhead()
    {
        if (_ahead == 0)
            return;
        lock (_commands)
            for (; _ahead > 0; _ahead--)
                _commands.Add((AgentProtocol.CommandRelease, 0, 0));
    }

    public void Release()
    {
        if (_users == 0)
            return;
        _users--;
        lock (_commands) _commands.Add((AgentProtocol.CommandRelease, 0, 0));
    }

    public void Mark() { }

    public void Drain() { }

    public void Retain(object owner, IReadOnlyList<TimeWindow> windows) => process.Retain(owner, windows);

    /// <summary>
    /// The releases made since the last reply when they are all there is (a profiled transaction's
    /// finish, sent one-way; a continuous session that ended at a drain after its linger): an ACK
    /// carries them, and the client's flusher carries them out. An acquire waits for a reply (its
    /// marker sample is taken on the program's thread right then).
    /// </summary>
    public int TakeReleases()
    {
        lock (_commands)
        {
            if (!OnlyReleases())
                return 0;
            var n = Math.Min(_commands.Count, byte.MaxValue);
            _commands.RemoveRange(0, n);
            return n;
        }
    }

    /// <summary>Whether <see cref="TakeReleases"/> has something to take: an ACK is owed even with no call to acknowledge.</summary>
    public bool ReleasesPending
    {
        get
        {
            lock (_commands)
                return OnlyReleases();
        }
    }

    /// <summary>Commands are waiting, and all of them are releases. Caller holds the lock on <see cref="_commands"/>.</summary>
    private bool OnlyReleases() => _commands.Count > 0 && _commands.TrueForAll(c => c.Op == AgentProtocol.CommandRelease);

    /// <summary>The commands made since the last reply, for the next one.</summary>
    public List<(byte Op, int IntervalUs, int Depth)> TakeCommands()
    {
        lock (_commands)
        {
            var taken = new List<(byte, int, int)>(_commands);
            _commands.Clear();
            return taken;
        }
    }

    /// <summary>The session's one drain, once a second while sampling: its profilers cut chunks and trim.</summary>
    public void Tick()
    {
        if (IsSampling)
            Drained?.Invoke();
    }

    /// <summary>Samples the client shipped.</summary>
    public void Ingest(ReadOnlySpan<byte> records)
    {
        var samples = new List<PerlBridge.PerlSample>();
        PerlBridge.PerlSample.Parse(records, samples);
        process.Frames.AddTo(Store, samples, ThreadId, CallClock.ToUnix(0), ProfileFrame.IsSdkFrame);
    }
}
