using Newtonsoft.Json.Linq;
using PerlSentry.Engine.Sentry;
using PerlSentry.Engine.Sentry.Transport;
using PerlSentry.Engine.Tracing;

namespace PerlSentry.Engine.Profiling.Sessions;

/// <summary>
/// The profiling of one hub, as its options say (spec §4): transaction profiles (v1) when a profiles
/// rate or sampler is set, else continuous profiling (v2) when a session rate is. Decisions come from
/// the hub's <see cref="SamplingDecider"/>; samples from the sampler, whose one drain ticks both
/// profilers. Manual profiles (<c>start_profiler</c>, <c>profile</c>) in transaction mode travel in a
/// transaction of their own (op <c>profile</c>), because Relay drops a v1 profile without one.
/// Thread-safe: calls come from the interpreter's thread, ticks from the drain's.
/// </summary>
public sealed class HubProfiler : ITransactionProfiler, IDisposable
{
    private static readonly object TraceUser = new();

    private readonly Hub _hub;
    private ProfilerContext _ctx;
    private SamplingDecider _decider;
    private TransactionProfiler _transactions;
    private ContinuousProfiler _continuous;
    private readonly Lock _gate = new();
    private bool _startingManual;
    private ProfileHandle? _manual;

    public HubProfiler(Hub hub, ISampler sampler, HostInfo host, InAppRules inApp, Action<string>? log)
    {
        _hub = hub;
        _ctx = new ProfilerContext(hub.Options, sampler, host, inApp, hub.Client.Reports, hub.Client.Send, log);
        _decider = hub.Decider;
        _transactions = new TransactionProfiler(_ctx) { Exported = OnExported };
        _continuous = new ContinuousProfiler(_ctx);
        hub.Profiler = this;
        sampler.Drained += Tick;
    }

    private SentryOptions O => _ctx.Options;

    public SentryOptions Options => _ctx.Options;

    public ISampler Sampler => _ctx.Sampler;

    /// <summary>
    /// New settings (validated by the caller), for a profiler with nothing running: the seed's
    /// attribute setters (<c>$profiler-&gt;profile_lifecycle('trace')</c>).
    /// </summary>
    public void Reconfigure(SentryOptions options)
    {
        lock (_gate)
        {
            if (_manual is not null || _transactions.Newest is not null || _continuous.Live is not null)
                throw new InvalidOperationException("a profile is running: stop it before changing the profiler's settings");
            _continuous.Stop();   // a trace-lifecycle session lingering after its last transaction
            _ctx = _ctx with { Options = options };
            _decider = _hub.Decider.With(options);
            _transactions = _transactions.With(_ctx);
            _continuous = new ContinuousProfiler(_ctx);
        }
    }

    /// <summary>The profile running now: the manual one, else the newest transaction profile, else the continuous session.</summary>
    public ProfileHandle? Active { get { lock (_gate) return _manual ?? _transactions.Newest ?? _continuous.Live; } }

    /// <summary>The continuous session's profiler_id while it profiles something.</summary>
    public string? ProfilerId { get { lock (_gate) return _continuous.Live?.Id; } }

    public void OnTransactionStarted(Transaction tx, SamplingContext context)
    {
        lock (_gate)
        {
            if (_startingManual || O.ProfileLifecycle != ProfileLifecycle.Trace)
            {
                LinkSession(tx);
                return;
            }
            if (O.TransactionProfiling)
            {
                if (tx.ProfileDecision ?? _decider.DecideProfile(context))
                    _transactions.Start(tx, tx.Name);
                else
                    _ctx.Reports.Record(DiscardReason.SampleRate, DataCategory.Profile);
            }
            else if (O.ContinuousProfiling && _decider.SessionSampled)
            {
                tx.ProfileState = TraceUser;
                _continuous.Join(tx.Name);
            }
            Trim();   // the new profile's window, said at once (it only grows: the store is not walked)
            LinkSession(tx);
        }
    }

    private void LinkSession(Transaction tx)
    {
        if (_continuous.Session is { } session)
            tx.Contexts["profile"] = new JObject { ["profiler_id"] = session.Id };
    }

    public Func<EnvelopeItem?>? OnTransactionFinished(Transaction tx)
    {
        lock (_gate)
        {
            if (ReferenceEquals(tx.ProfileState, TraceUser))
            {
                tx.ProfileState = null;
                _continuous.Leave();
                Trim();
                return null;
            }
            if (tx.ProfileState is not ProfileHandle h)
                return null;
            if (ReferenceEquals(_manual, h))
                _manual = null;
            var item = _transactions.Finish(tx, h);
            Trim();
            return item;
        }
    }

    /// <summary>
    /// <c>start_profiler</c>: a named profile. Null, with the reason in <paramref name="whyNot"/>, when
    /// profiling is off, one already runs, the sample rate said no, or the lifecycle is <c>trace</c> in continuous mode.
    /// </summary>
    public ProfileHandle? StartManual(string name, out string? whyNot)
    {
        lock (_gate)
        {
            whyNot = !O.EnableProfiling ? "profiling is off (enable_profiling, profiles_sample_rate or profile_session_sample_rate)"
                : _manual is not null ? $"profile '{_manual.Name}' is still running; stop it first"
                : null;
            if (whyNot is not null)
                return null;
            if (O.TransactionProfiling)
                _manual = StartManualTransaction(name, out whyNot);
            else if (O.ProfileLifecycle == ProfileLifecycle.Trace)
                whyNot = "profile_lifecycle is 'trace': the continuous profiler runs while transactions do";
            else if (!_decider.SessionSampled)
                whyNot = "this process's profiling session was not sampled (profile_session_sample_rate)";
            else
                _manual = _continuous.Start(name);
            if (_manual is not null)
                Trim();   // its window, said at once
            return _manual;
        }
    }

    private ProfileHandle? StartManualTransaction(string name, out string? whyNot)
    {
        whyNot = null;
        var sampling = new SamplingContext(new JObject
        {
            ["transaction_context"] = new JObject { ["name"] = name, ["op"] = "profile" },
            ["profile_name"] = name,
        });
        if (!_decider.DecideProfile(sampling))
        {
            _ctx.Reports.Record(DiscardReason.SampleRate, DataCategory.Profile);
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
        return _transactions.Start(tx, name);
    }

    /// <summary>
    /// <c>stop_profiler</c>: ends the manual profile (and sends it); null when none runs. <paramref name="status"/>:
    /// the status of its transaction when it has one (<c>internal_error</c> when the profiled code died).
    /// </summary>
    public ProfileHandle? StopManual(string? status = null)
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
                _continuous.Stop();
                Trim();
                return h;
            }
        }
        // Outside the lock: finishing the transaction comes back through OnTransactionFinished.
        if (h.Transaction is { } tx)
        {
            if (status is not null)
                tx.Status ??= status;
            tx.Finish(_hub.Clock.UnixNs);
        }
        return h;
    }

    /// <summary>The profile's current payload: v1 JSON for a transaction profile, a v2 chunk of the session so far.</summary>
    public string? Preview(ProfileHandle h)
    {
        if (h.Payload is not null)
            return h.Payload;
        _ctx.Sampler.Drain();
        lock (_gate)
            return h.Kind == ProfileKind.Transaction ? _transactions.Preview(h) : _continuous.Preview(h);
    }

    /// <summary>The drain's tick: cut due chunks, expire long profiles, say which samples are still needed.</summary>
    private void Tick()
    {
        lock (_gate)
        {
            var now = _ctx.Sampler.NowNs;
            _continuous.Tick(now);
            _transactions.Tick(now);
            Trim();
        }
    }

    private void Trim() => _ctx.Sampler.Retain(this, [.. _transactions.Windows, .. _continuous.Windows]);

    /// <summary>At exit: the manual profile and the continuous session are stopped and sent.</summary>
    public void Shutdown()
    {
        StopManual();
        lock (_gate)
        {
            _continuous.Stop();
            Trim();
        }
    }

    private volatile bool _disposed;

    /// <summary>
    /// A finished profile took its samples (on the writer). Only after <see cref="Dispose"/> does that
    /// change what is kept: until then the drain's tick says so.
    /// </summary>
    private void OnExported()
    {
        if (_disposed)
            KeepFinishing();
    }

    private readonly Lock _keeping = new();

    private void KeepFinishing()
    {
        lock (_keeping)   // the last one said wins: from the writer and from Dispose
            _ctx.Sampler.Retain(this, _transactions.Finishing);
    }

    /// <summary>Stops following the sampler; the samples of finished profiles whose export has not run yet (on the writer) are kept until it has.</summary>
    public void Dispose()
    {
        _disposed = true;
        _ctx.Sampler.Drained -= Tick;
        KeepFinishing();
    }
}
