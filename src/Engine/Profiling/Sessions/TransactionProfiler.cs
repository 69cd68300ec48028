using Newtonsoft.Json.Linq;
using PerlSentry.Engine.Profiling.Export;
using PerlSentry.Engine.Sentry;
using PerlSentry.Engine.Sentry.Transport;
using PerlSentry.Engine.Tracing;

namespace PerlSentry.Engine.Profiling.Sessions;

/// <summary>
/// Transaction profiles, sample format v1 (spec §2, §6): a marker sample at start and at finish,
/// anchored at the transaction's start, cut at <c>max_profile_duration</c>, sent in the transaction's
/// envelope; under 2 samples the profile is dropped as <c>insufficient_data</c>. On the program's
/// thread a finish only takes its marker; the drain, the window and the export run where the
/// envelope is written (the writer's thread). Not thread-safe: its owner (<see cref="HubProfiler"/>)
/// serialises calls, except the export <see cref="Finish"/> returns.
/// </summary>
internal sealed class TransactionProfiler(ProfilerContext ctx)
{
    private readonly List<ProfileHandle> _running = [];

    /// <summary>Finished profiles not exported yet: their samples are still needed (under its own lock: the export runs on the writer).</summary>
    private readonly PendingExports _finishing = new();

    private TransactionProfiler(ProfilerContext ctx, PendingExports finishing) : this(ctx) => _finishing = finishing;

    /// <summary>
    /// The profiler with new settings (nothing running): the profiles this one finished whose export has
    /// not run yet stay in its windows until it has, so its trims leave their samples.
    /// </summary>
    public TransactionProfiler With(ProfilerContext newContext) => new(newContext, _finishing) { Exported = Exported };

    /// <summary>Raised on the exporting thread when a finished profile has taken its samples.</summary>
    public Action? Exported { get; set; }

    /// <summary>How long a finished profile's samples are kept for an export that has not come (a writer that stopped).</summary>
    private static readonly long ExportWaitNs = (long)TimeSpan.FromSeconds(60).TotalNanoseconds;

    private long MaxDurationNs => (long)(Math.Min(ctx.Options.MaxProfileDuration, SentryProfileV1Exporter.MaxDuration.TotalSeconds) * 1e9);

    public ProfileHandle? Newest => _running.LastOrDefault();

    /// <summary>Starts profiling <paramref name="tx"/>: anchored at its start, on the sampler's clock.</summary>
    public ProfileHandle Start(Transaction tx, string name)
    {
        var h = new ProfileHandle(ProfileKind.Transaction, name, Math.Min(tx.StartNs, ctx.Sampler.NowNs), SentryIds.NewEventId())
        {
            Transaction = tx,
        };
        ctx.Sampler.Acquire(ctx.Options.SamplingIntervalUs, ctx.Options.MaxStackDepth);
        ctx.Sampler.Mark();
        _running.Add(h);
        tx.ProfileState = h;
        return h;
    }

    /// <summary>
    /// Ends the profile of a finishing transaction: what writes its envelope item, or null (dropped and
    /// counted). That runs before the transaction is written (on the writer's thread, or here), reads
    /// only what is fixed here, and adds <c>contexts.profile</c> to the transaction when it sends one.
    /// </summary>
    public Func<EnvelopeItem?>? Finish(Transaction tx, ProfileHandle h)
    {
        tx.ProfileState = null;
        if (!h.Expired)
            ctx.Sampler.Mark();
        h.EndNs = ctx.Sampler.NowNs;   // after the closing marker, so the window holds it
        ctx.Sampler.Release();
        _running.Remove(h);
        if (!tx.IsSampled)
        {
            h.DropReason ??= DiscardReason.SampleRate;
            return null;
        }
        _finishing.Add(h);
        return () => Export(h, tx);
    }

    private EnvelopeItem? Export(ProfileHandle h, Transaction tx)
    {
        ctx.Sampler.Drain();   // the closing marker and what was sampled before it
        var (snapshot, context) = Window(h, tx);
        _finishing.Remove(h);
        Exported?.Invoke();
        var samples = SentryProfileV1Exporter.SamplesOf(snapshot, context);
        if (samples.Count < 2)
        {
            InsufficientData(h, tx);
            return null;
        }
        tx.Contexts["profile"] = new JObject { ["profile_id"] = h.Id };
        return new EnvelopeItem("profile", h.Payload = SentryProfileV1Exporter.Export(snapshot.WithInApp(ctx.InApp), context, samples));
    }

    /// <summary>The profile's v1 payload so far (or as sent).</summary>
    public string? Preview(ProfileHandle h)
    {
        if (h.Payload is not null || h.Transaction is not { } tx)
            return h.Payload;
        var (snapshot, context) = Window(h, tx);
        return SentryProfileV1Exporter.Export(snapshot.WithInApp(ctx.InApp), context);
    }

    private void InsufficientData(ProfileHandle h, Transaction tx)
    {
        h.DropReason = DiscardReason.InsufficientData;
        ctx.Reports.Record(DiscardReason.InsufficientData, DataCategory.Profile);
        ctx.Log?.Invoke($"profile of '{tx.Name}' has fewer than 2 samples; not sent (insufficient_data)");
    }

    /// <summary>
    /// The samples over the profile's window (start to end, at most max_profile_duration), and what v1
    /// says of it; frames not yet marked in-app.
    /// </summary>
    private (ProfileSnapshot, SentryProfileV1Exporter.Context) Window(ProfileHandle h, Transaction tx)
    {
        var end = Math.Min(h.EndNs ?? ctx.Sampler.NowNs, h.StartNs + MaxDurationNs);
        var snapshot = ctx.Sampler.Store.Snapshot(h.StartNs, end);
        return (snapshot, new SentryProfileV1Exporter.Context(h.Id, tx.EventId, tx.TraceId, tx.Name,
            h.StartNs, end, ctx.Sampler.ThreadId, ctx.Host, ctx.Options.Release, ctx.Options.Environment));
    }

    /// <summary>After a drain: profiles past max_profile_duration take no more samples.</summary>
    public void Tick(long nowNs)
    {
        _finishing.ForgetEndedBefore(nowNs - ExportWaitNs);
        foreach (var h in _running.Where(h => !h.Expired && nowNs - h.StartNs > MaxDurationNs))
        {
            h.Expired = true;
            ctx.Log?.Invoke($"profile of '{h.Name}' reached max_profile_duration; later samples are not part of it");
        }
    }

    /// <summary>The samples the finished profiles whose export has not run yet need: one window over them all.</summary>
    public IReadOnlyList<TimeWindow> Finishing => Span(includeRunning: false);

    /// <summary>
    /// The samples the running profiles and those not exported yet need, as one window over them all:
    /// a server has a profile per request waiting for the writer, and a window each made every start
    /// and finish compare them all. The gaps between them are kept too, for as long as the writer lags.
    /// </summary>
    public IReadOnlyList<TimeWindow> Windows => Span(includeRunning: true);

    private IReadOnlyList<TimeWindow> Span(bool includeRunning)
    {
        long from = long.MaxValue, to = long.MinValue;
        if (includeRunning)
            foreach (var h in _running)
                (from, to) = (Math.Min(from, h.StartNs), Math.Max(to, h.StartNs + MaxDurationNs));
        if (_finishing.Span() is { } pending)
            (from, to) = (Math.Min(from, pending.From), Math.Max(to, pending.To));
        return from <= to ? [new TimeWindow(from, to)] : [];
    }

    /// <summary>
    /// Finished profiles waiting for their export, and the one window over them, each in O(log n): when
    /// the writer lags behind a busy server, thousands wait. Thread-safe.
    /// </summary>
    private sealed class PendingExports
    {
        private readonly SortedSet<(long Start, long Seq)> _starts = [];
        private readonly Dictionary<ProfileHandle, (long Start, long Seq, long End)> _of = new(ReferenceEqualityComparer.Instance);
        private long _seq;
        private long _to = long.MinValue;   // the latest end since the set was last empty

        public void Add(ProfileHandle h)
        {
            lock (_starts)
            {
                var seq = ++_seq;
                _starts.Add((h.StartNs, seq));
                _of[h] = (h.StartNs, seq, h.EndNs!.Value);
                _to = Math.Max(_to, h.EndNs.Value);
            }
        }

        public void Remove(ProfileHandle h)
        {
            lock (_starts)
            {
                if (!_of.Remove(h, out var e))
                    return;
                _starts.Remove((e.Start, e.Seq));
                if (_of.Count == 0)
                    _to = long.MinValue;
            }
        }

        public TimeWindow? Span()
        {
            lock (_starts)
                return _of.Count == 0 ? null : new TimeWindow(_starts.Min.Start, _to);
        }

        /// <summary>Forgets those whose export never came (a writer that stopped).</summary>
        public void ForgetEndedBefore(long ns)
        {
            lock (_starts)
                foreach (var h in _of.Where(kv => kv.Value.End < ns).Select(kv => kv.Key).ToList())
                    Remove(h);
        }
    }
}
