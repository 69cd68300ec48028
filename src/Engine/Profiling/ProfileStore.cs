namespace PerlSentry.Engine.Profiling;

/// <summary>
/// Interned frames and stacks (integer indexes, as Sentry's formats want them) and the samples
/// that refer to them. Thread-safe: the profiler adds from its drain thread while exporters read.
/// One store serves transaction profiles and continuous chunks: both take a time window of it.
/// </summary>
public sealed class ProfileStore
{
    private readonly Lock _gate = new();
    private Dictionary<ProfileFrame, int> _frameIds = [];
    private AppendOnlyList<ProfileFrame> _frames = new();
    private Dictionary<StackKey, int> _stackIds = [];
    private AppendOnlyList<int[]> _stacks = new();

    /// <summary>
    /// How many distinct stacks the store holds before a <see cref="Retain"/> compacts it: the frames and
    /// stacks start afresh with only those the kept samples use. A server runs for months, and the stacks
    /// of its requests (recursion, callbacks, string evals) are not a closed set. Compacted again only
    /// when the tables have doubled over what the last compaction kept, so a store whose samples use
    /// many stacks is not rebuilt at every Retain.
    /// </summary>
    public int CompactFrom { get; init; } = 10_000;

    private int _compactAt;
    private readonly List<ProfileSample> _samples = [];
    private readonly Dictionary<long, string> _threads = [];

    /// <summary>The sampling interval, so weights can be turned into time (the profiler sets it when it starts).</summary>
    public TimeSpan Interval { get; set; } = TimeSpan.FromSeconds(1.0 / 101);

    public IReadOnlyList<ProfileFrame> Frames { get { lock (_gate) return _frames.View(); } }

    /// <summary>Stacks of frame indexes, innermost frame first.</summary>
    public IReadOnlyList<int[]> Stacks { get { lock (_gate) return _stacks.View(); } }

    public IReadOnlyList<ProfileSample> Samples { get { lock (_gate) return [.. _samples]; } }

    public IReadOnlyDictionary<long, string> Threads { get { lock (_gate) return new Dictionary<long, string>(_threads); } }

    public int SampleCount { get { lock (_gate) return _samples.Count; } }

    public void NameThread(long threadId, string name)
    {
        lock (_gate) _threads[threadId] = name;
    }

    public int InternFrame(ProfileFrame frame)
    {
        lock (_gate) return InternFrameLocked(frame);
    }

    /// <summary>Adds a sample whose stack is given innermost first.</summary>
    public void Add(IReadOnlyList<ProfileFrame> stack, long threadId, long timestampNs, int weight)
    {
        lock (_gate)
        {
            var ids = new int[stack.Count];
            for (var i = 0; i < ids.Length; i++)
                ids[i] = InternFrameLocked(stack[i]);
            var sample = new ProfileSample(InternStackLocked(ids), threadId, timestampNs, weight);
            // In time order (drains of several threads can come out of it): a window is found by
            // binary search, not by a walk over every sample held.
            if (_samples.Count == 0 || _samples[^1].TimestampNs <= timestampNs)
                _samples.Add(sample);
            else
                _samples.Insert(After(timestampNs), sample);
        }
    }

    /// <summary>The indexes [first, last) of the samples from <paramref name="fromNs"/> to <paramref name="toNs"/> (inclusive).</summary>
    private (int First, int Last) Range(long fromNs, long toNs)
    {
        var first = fromNs == long.MinValue ? 0 : After(fromNs - 1);
        return (first, Math.Max(first, After(toNs)));
    }

    /// <summary>The index of the first sample later than <paramref name="timestampNs"/>.</summary>
    private int After(long timestampNs)
    {
        int lo = 0, hi = _samples.Count;
        while (lo < hi)
        {
            var mid = (lo + hi) >>> 1;
            if (_samples[mid].TimestampNs <= timestampNs) lo = mid + 1; else hi = mid;
        }
        return lo;
    }

    /// <summary>
    /// Forgets the samples outside <paramref name="windows"/> (inclusive; frames and stacks stay
    /// interned); returns how many went. Samples are in time order, so each window is found by binary
    /// search and what is kept is copied in ranges.
    /// </summary>
    public int Retain(IReadOnlyList<TimeWindow> windows)
    {
        lock (_gate)
        {
            var before = _samples.Count;
            if (windows.Count == 0)
            {
                _samples.Clear();
                CompactIfLarge();
                return before;
            }
            var kept = new List<ProfileSample>();
            var covered = 0;   // samples before this index are kept already: overlapping windows add nothing twice
            foreach (var (first, last) in windows.Select(w => Range(w.From, w.To)).OrderBy(r => r.First))
            {
                var start = Math.Max(first, covered);
                if (last > start)
                    kept.AddRange(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_samples)[start..last]);
                covered = Math.Max(covered, last);
            }
            if (kept.Count == before)
            {
                CompactIfLarge();
                return 0;
            }
            _samples.Clear();
            _samples.AddRange(kept);
            CompactIfLarge();
            return before - kept.Count;
        }
    }

    /// <summary>
    /// Past <see cref="CompactFrom"/> stacks (and twice what the last compaction kept), the frames and
    /// stacks start afresh with those the samples held use, and the samples get their new stack ids.
    /// Snapshots taken before keep the old tables (views of lists that no longer change) and their own
    /// copy of the samples, so an export in progress is not disturbed.
    /// </summary>
    private void CompactIfLarge()
    {
        if (_stacks.Count < Math.Max(CompactFrom, _compactAt))
            return;
        var (frames, stacks) = (_frames, _stacks);
        _frameIds = [];
        _frames = new();
        _stackIds = [];
        _stacks = new();
        var newId = new Dictionary<int, int>();
        var samples = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_samples);
        foreach (ref var s in samples)
        {
            if (!newId.TryGetValue(s.StackId, out var id))
            {
                var old = stacks[s.StackId];
                var ids = new int[old.Length];
                for (var i = 0; i < ids.Length; i++)
                    ids[i] = InternFrameLocked(frames[old[i]]);
                newId[s.StackId] = id = InternStackLocked(ids);
            }
            s = s with { StackId = id };
        }
        _compactAt = 2 * _stacks.Count;
    }

    /// <summary>A consistent copy of everything, for the exporters (pure functions of it).</summary>
    public ProfileSnapshot Snapshot(long fromNs = long.MinValue, long toNs = long.MaxValue)
    {
        lock (_gate)
        {
            var (first, last) = Range(fromNs, toNs);
            var samples = _samples.GetRange(first, last - first);
            // Frames and stacks only grow: the snapshot views them as they are now, without a copy.
            return new ProfileSnapshot(_frames.View(), _stacks.View(), samples, new Dictionary<long, string>(_threads), Interval);
        }
    }

    private int InternStackLocked(int[] ids)
    {
        var key = new StackKey(ids);
        if (!_stackIds.TryGetValue(key, out var id))
        {
            id = _stacks.Count;
            _stacks.Add(ids);
            _stackIds[key] = id;
        }
        return id;
    }

    private int InternFrameLocked(ProfileFrame frame)
    {
        if (!_frameIds.TryGetValue(frame, out var id))
        {
            id = _frames.Count;
            _frames.Add(frame);
            _frameIds[frame] = id;
        }
        return id;
    }

    private readonly struct StackKey(int[] ids) : IEquatable<StackKey>
    {
        private readonly int[] _ids = ids;
        private readonly int _hash = Hash(ids);

        private static int Hash(int[] ids)
        {
            var h = new HashCode();
            foreach (var i in ids) h.Add(i);
            return h.ToHashCode();
        }

        public bool Equals(StackKey other) => _ids.AsSpan().SequenceEqual(other._ids);

        public override bool Equals(object? obj) => obj is StackKey k && Equals(k);

        public override int GetHashCode() => _hash;
    }
}
