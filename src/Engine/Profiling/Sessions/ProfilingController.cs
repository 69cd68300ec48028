using Newtonsoft.Json.Linq;
using PerlSentry.Engine.Profiling.Export;
using PerlSentry.Engine.Sentry;
using PerlSentry.Engine.Sentry.Transport;
using PerlSentry.Engine.Tracing;

namespace PerlSentry.Engine.Profiling.Sessions;

/// <summary>
/// The SDK's profiling for one hub (spec §2–§4, §6):
/// <list type="bullet">
/// <item>Transaction profiles (v1): decided by <c>profiles_sampler</c> / <c>profiles_sample_rate</c> for
/// sampled transactions when <c>profile_lifecycle</c> is <c>trace</c>; a marker sample at start and
/// at finish; cut at <c>max_profile_duration</c>; under 2 samples it is dropped as
/// <c>insufficient_data</c>.</item>
/// <item>Manual profiles (<c>start_profiler</c>, <c>profile</c>) in that mode travel in a transaction
/// of their own (op <c>profile</c>), because Relay drops a v1 profile without one.</item>
/// <item>Continuous profiling (v2) when only <c>profile_session_sample_rate</c> is set: decided once
/// per process; manual start/stop or, with <c>trace</c>, while a sampled transaction runs; a chunk
/// every 60 s with a fresh chunk_id, one profiler_id per session.</item>
/// </list>
/// Start, finish and stop run on the interpreter's thread; a 1 s timer cuts chunks and trims the store.
/// </summary>
public sealed class ProfilingController : ITransactionProfiler, IDisposable
{
    private static readonly long ChunkNs = (long)SentryChunkExporter.ChunkLength.TotalNanoseconds;
    private static readonly object TraceUser = new();

    private readonly Hub _hub;
    private readonly ISampler _sampler;
    private readonly HostInfo _host;
    private readonly Action<string>? _log;
    private readonly Lock _gate = new();
    private readonly List<ProfileHandle> _transactionProfiles = [];
    private readonly Random _random = new();
    private readonly Timer? _timer;
    private bool _startingManual;
    private ProfileHandle? _manual;
    private bool? _sessionSampled;
    private ProfileHandle? _session;
    private long _chunkCutNs;
    private int _traceUsers;

    public ProfilingController(Hub hub, ISampler sampler, HostInfo host, Action<string>? log, bool startTimer = true)
    {
        _hub = hub;
        _sampler = sampler;
        _host = host;
        _log = log;
        hub.Profiler = this;
        if (hub.Options.EnableProfiling)
            _ = sampler.NowNs;   // set the profiler up now, not inside the first profiled transaction
        if (startTimer)
            _timer = new Timer(_ => Tick(), null, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
    }

    private SentryOptions O => _hub.Options;

    public SentryOptions Options => _hub.Options;

    private long MaxDurationNs => (long)(Math.Min(O.MaxProfileDuration, SentryProfileV1Exporter.MaxDuration.TotalSeconds) * 1e9);

    /// <summary>The profile running now: the one <see cref="StartManual"/> started, else the newest transaction profile.</summary>
    public ProfileHandle? Active { get { lock (_gate) return _manual ?? _transactionProfiles.LastOrDefault() ?? _session; } }

    /// <summary>The continuous session's profiler_id while it runs.</summary>
    public string? ProfilerId { get { lock (_gate) return _session?.Id; } }

    public void OnTransactionStarted(Transaction tx, SamplingContext context)
    {
        lock (_gate)
        {
            if (_startingManual)
                return;
            if (O.TransactionProfiling)
            {
                if (O.ProfileLifecycle != ProfileLifecycle.Trace)
                    return;
                if (!Sample(context))
                {
                    _hub.Client.Reports.Record(DiscardReason.SampleRate, DataCategory.Profile);
                    return;
                }
                StartTransactionProfile(tx, tx.Name);
            }
            else if (O.ContinuousProfiling && O.ProfileLifecycle == ProfileLifecycle.Trace && SessionSampled())
            {
                _traceUsers++;
                tx.ProfileState = TraceUser;
                EnsureSession(tx.Name);
            }
            if (_session is not null)
                tx.Contexts["profile"] = new JObject { ["profiler_id"] = _session.Id };
        }
    }

    public EnvelopeItem? OnTransactionFinished(Transaction tx)
    {
        lock (_gate)
        {
            if (ReferenceEquals(tx.ProfileState, TraceUser))
            {
                tx.ProfileState = null;
                if (--_traceUsers == 0 && O.ProfileLifecycle == ProfileLifecycle.Trace)
                    StopSession();
                return null;
            }
            if (tx.ProfileState is not ProfileHandle h)
                return null;
            tx.ProfileState = null;
            if (ReferenceEquals(_manual, h))
                _manual = null;
            if (!h.Expired)
                _sampler.Mark();
            h.EndNs = _sampler.NowNs;   // after the closing marker, so the window holds it
            _sampler.Drain();
            if (!h.Expired)
                _sampler.Release();
            _transactionProfiles.Remove(h);
            var payload = tx.IsSampled ? Export(h, tx) : null;
            Trim();
            if (payload is null)
            {
                h.DropReason ??= DiscardReason.SampleRate;
                return null;
            }
            h.Payload = payload;
            tx.Contexts["profile"] = new JObject { ["profile_id"] = h.Id };
            return new EnvelopeItem("profile", payload);
        }
    }

    /// <summary>The profile's v1 payload over its window (start to end, at most max_profile_duration), or null under 2 samples.</summary>
    private string? ExportV1(ProfileHandle h, Transaction tx)
    {
        var end = Math.Min(h.EndNs ?? _sampler.NowNs, h.StartNs + MaxDurationNs);
        return SentryProfileV1Exporter.Export(_sampler.Store.Snapshot(h.StartNs, end),
            new SentryProfileV1Exporter.Context(h.Id, tx.EventId, tx.TraceId, tx.Name, h.StartNs, end, _sampler.ThreadId, _host, O.Release, O.Environment));
    }

    private string? Export(ProfileHandle h, Transaction tx)
    {
        var payload = ExportV1(h, tx);
        if (payload is null)
        {
            h.DropReason = DiscardReason.InsufficientData;
            _hub.Client.Reports.Record(DiscardReason.InsufficientData, DataCategory.Profile);
            _log?.Invoke($"profile of '{tx.Name}' has fewer than 2 samples; not sent (insufficient_data)");
        }
        return payload;
    }

    /// <summary>
    /// <c>start_profiler</c>: a named profile. Null, with the reason in <paramref name="whyNot"/>, when
    /// profiling is off, one already runs, the sample rate said no, or the lifecycle is <c>trace</c> in continuous mode.
    /// </summary>
    public ProfileHandle? StartManual(string name, out string? whyNot)
    {
        lock (_gate)
        {
            whyNot = null;
            if (!O.EnableProfiling)
                whyNot = "profiling is off (enable_profiling, profiles_sample_rate or profile_session_sample_rate)";
            else if (_manual is not null)
                whyNot = $"profile '{_manual.Name}' is still running; stop it first";
            if (whyNot is not null)
                return null;
            if (O.TransactionProfiling)
            {
                var sampling = new SamplingContext(new JObject
                {
                    ["transaction_context"] = new JObject { ["name"] = name, ["op"] = "profile" },
                    ["profile_name"] = name,
                });
                if (!Sample(sampling))
                {
                    _hub.Client.Reports.Record(DiscardReason.SampleRate, DataCategory.Profile);
                    whyNot = "not sampled (profiles_sample_rate / profiles_sampler)";
                    return null;
                }
                Transaction tx;
                _startingManual = true;
                try
                {
                    var parent = _hub.CurrentScope.Span;
                    tx = _hub.StartTransaction(new TransactionContext
                    {
                        Name = name,
                        Op = "profile",
                        Sampled = true,
                        Parent = parent is null ? null : new TraceHeaders.TraceParent(parent.TraceId, parent.SpanId, true),
                    });
                }
                finally
                {
                    _startingManual = false;
                }
                _manual = StartTransactionProfile(tx, name);
                return _manual;
            }
            if (O.ProfileLifecycle == ProfileLifecycle.Trace)
            {
                whyNot = "profile_lifecycle is 'trace': the continuous profiler runs while transactions do";
                return null;
            }
            if (!SessionSampled())
            {
                whyNot = "this process's profiling session was not sampled (profile_session_sample_rate)";
                return null;
            }
            EnsureSession(name);
            _manual = _session;
            return _manual;
        }
    }

    /// <summary><c>stop_profiler</c>: ends the manual profile (and sends it); null when none runs.</summary>
    public ProfileHandle? StopManual()
    {
        ProfileHandle? h;
        lock (_gate)
        {
            h = _manual;
            if (h is null)
                return null;
            if (h.Kind == ProfileKind.Continuous)
            {
                _manual = null;
                StopSession();
                return h;
            }
        }
        // Outside the lock: finishing the transaction comes back through OnTransactionFinished.
        h.Transaction?.Finish(_hub.Clock.UnixNs);
        return h;
    }

    /// <summary>The profile's current payload: v1 JSON for a transaction profile, a v2 chunk of the session so far.</summary>
    public string? Preview(ProfileHandle h)
    {
        if (h.Payload is not null)
            return h.Payload;
        _sampler.Drain();
        lock (_gate)
        {
            if (h.Kind == ProfileKind.Transaction && h.Transaction is { } tx)
                return ExportV1(h, tx);
            var now = _sampler.NowNs;
            var chunks = SentryChunkExporter.Export(_sampler.Store.Snapshot(Math.Max(h.StartNs, _chunkCutNs), h.EndNs ?? now),
                new SentryChunkExporter.Context(h.Id, SdkInfo.Default, O.Release, O.Environment));
            return chunks.Count > 0 ? chunks[^1] : null;
        }
    }

    private ProfileHandle StartTransactionProfile(Transaction tx, string name)
    {
        // Anchored at the transaction's start, as Sentry recommends (spec §6); both use the sampler's clock.
        var h = new ProfileHandle(ProfileKind.Transaction, name, Math.Min(tx.StartNs, _sampler.NowNs), SentryIds.NewEventId())
        {
            Transaction = tx,
        };
        _sampler.Acquire(O.SamplingIntervalUs, O.MaxStackDepth);
        _sampler.Mark();
        _transactionProfiles.Add(h);
        tx.ProfileState = h;
        return h;
    }

    private bool Sample(SamplingContext context)
    {
        double? rate = O.ProfilesSampleRate;
        if (O.ProfilesSampler is { } sampler)
        {
            try
            {
                rate = sampler(context);
            }
            catch (Exception e) when (e is not CallbackAbortedException)
            {
                _log?.Invoke($"profiles_sampler failed ({e.Message}); not profiled");
                return false;
            }
        }
        if (rate is null or <= 0 || double.IsNaN(rate.Value))
            return false;
        lock (_random) return _random.NextDouble() < rate.Value;
    }

    private bool SessionSampled()
    {
        if (_sessionSampled is null)
        {
            lock (_random) _sessionSampled = _random.NextDouble() < (O.ProfileSessionSampleRate ?? 0);
            _log?.Invoke(_sessionSampled.Value ? "this profiling session is sampled" : "this profiling session is not sampled");
        }
        return _sessionSampled.Value;
    }

    private void EnsureSession(string name)
    {
        if (_session is not null)
            return;
        _session = new ProfileHandle(ProfileKind.Continuous, name, _sampler.NowNs, SentryIds.NewEventId());
        _chunkCutNs = _session.StartNs;
        _sampler.Acquire(O.SamplingIntervalUs, O.MaxStackDepth);
        _sampler.Mark();
    }

    private void StopSession()
    {
        if (_session is null)
            return;
        _sampler.Mark();
        _sampler.Drain();
        _sampler.Release();
        var now = _sampler.NowNs;
        FlushChunks(now, final: true);
        _session.EndNs = now;
        _session = null;
        Trim();
    }

    /// <summary>Sends each finished 60 s window of the session as a chunk; at the end, the rest.</summary>
    private void FlushChunks(long nowNs, bool final)
    {
        if (_session is null)
            return;
        while (_chunkCutNs + ChunkNs <= nowNs || (final && _chunkCutNs <= nowNs))
        {
            var end = Math.Min(_chunkCutNs + ChunkNs, nowNs + 1);
            var snapshot = _sampler.Store.Snapshot(_chunkCutNs, end - 1);
            _chunkCutNs = end;
            if (snapshot.Samples.Count >= 2)
            {
                foreach (var chunk in SentryChunkExporter.Export(snapshot, new SentryChunkExporter.Context(_session.Id, SdkInfo.Default, O.Release, O.Environment)))
                    _hub.Client.Send(Envelope.FromProfileChunk(chunk, SdkInfo.Default));
            }
            else if (snapshot.Samples.Count == 1)
            {
                // Relay refuses a chunk with one sample (not_enough_samples, spec §3).
                _hub.Client.Reports.Record(DiscardReason.InsufficientData, DataCategory.ProfileChunk);
            }
            if (end > nowNs)
                break;
        }
    }

    /// <summary>Timer work, off the interpreter's thread: drain, cut due chunks, expire long profiles, trim.</summary>
    public void Tick()
    {
        _sampler.Drain();
        lock (_gate)
        {
            var now = _sampler.NowNs;
            FlushChunks(now, final: false);
            foreach (var h in _transactionProfiles.Where(h => !h.Expired && now - h.StartNs > MaxDurationNs))
            {
                h.Expired = true;
                _log?.Invoke($"profile of '{h.Name}' reached max_profile_duration; later samples are not part of it");
            }
            Trim();
        }
    }

    private void Trim()
    {
        var windows = _transactionProfiles.Select(h => (h.StartNs, h.StartNs + MaxDurationNs)).ToList();
        if (_session is not null)
            windows.Add((_chunkCutNs, long.MaxValue));
        _sampler.Retain(this, windows);
    }

    /// <summary>At exit: the manual profile and the continuous session are stopped and sent.</summary>
    public void Shutdown()
    {
        StopManual();
        lock (_gate)
        {
            _traceUsers = 0;
            StopSession();
        }
    }

    public void Dispose() => _timer?.Dispose();
}
