using PerlSentry.Engine.Tracing;

namespace PerlSentry.Engine.Sentry;

/// <summary>
/// Every roll of the dice a session makes, in one place: errors (<c>sample_rate</c>), transactions
/// (<c>traces_sampler</c>, the parent's decision, <c>traces_sample_rate</c>), transaction profiles
/// (<c>profiles_sampler</c>, <c>profiles_sample_rate</c>) and the continuous profiling session
/// (<c>profile_session_sample_rate</c>, decided once). The hub, the client and the profilers share it.
/// A sampler that fails or returns something that is not a rate says no, and is logged.
/// </summary>
public sealed class SamplingDecider(SentryOptions options, Action<string>? log = null, Random? random = null)
{
    private readonly Random _random = random ?? new Random();
    private SessionState _session = new();

    private sealed class SessionState
    {
        public bool? Sampled;
    }

    /// <summary>The same dice under other options (a profiler reconfigured after init); the session decision stays shared.</summary>
    public SamplingDecider With(SentryOptions other) => new(other, log, _random) { _session = _session };

    public SentryOptions Options { get; } = options;

    /// <summary>Whether an error event is kept (<c>sample_rate</c>).</summary>
    public bool SampleError() => Options.SampleRate >= 1.0 || Roll() < Options.SampleRate;

    /// <summary>
    /// A transaction's decision and the rate it was made at: an explicit <c>sampled</c>, else
    /// <c>traces_sampler</c>, else the parent's decision, else <c>traces_sample_rate</c>, else the
    /// profile decision when profiling is configured (<see cref="ProfilingDecides"/>; then
    /// <c>Profiled</c> is that decision, for the profiler to take); with none of them tracing is off.
    /// </summary>
    public (bool Sampled, double? Rate, bool? Profiled) DecideTransaction(TransactionContext ctx, SamplingContext sampling)
    {
        if (ctx.Sampled is { } forced)
            return (forced, ctx.SampleRate ?? (forced ? 1.0 : 0.0), null);
        double? rate;
        if (Options.TracesSampler is { } sampler)
        {
            rate = Ask("traces_sampler", sampler, sampling);
            if (rate is null)
                return (false, 0.0, null);
        }
        else if (ctx.Parent?.Sampled is { } parent)
        {
            return (parent, parent ? 1.0 : 0.0, null);
        }
        else if (Options.TracesSampleRate is null && ProfilingDecides(sampling, out var profiled, out var profileRate))
        {
            return (profiled, profileRate, profiled);
        }
        else
        {
            rate = Options.TracesSampleRate;
        }
        return rate is null ? (false, null, null) : (Roll() < rate.Value, rate, null);
    }

    /// <summary>
    /// With profiling configured on transactions (lifecycle trace) and tracing not (no
    /// traces_sample_rate, no traces_sampler, no parent decision), a transaction is kept exactly when
    /// it is profiled: the profile decision decides both (the plan's own test relies on it). Sentry's
    /// rule stands whenever tracing is configured: only sampled transactions are profiled.
    /// </summary>
    private bool ProfilingDecides(SamplingContext sampling, out bool profiled, out double? rate)
    {
        profiled = false;
        rate = null;
        if (Options.ProfileLifecycle != ProfileLifecycle.Trace)
            return false;
        if (Options.TransactionProfiling)
        {
            rate = ProfileRate(sampling) ?? 0.0;
            profiled = Rolls(rate);
            return true;
        }
        if (Options.ContinuousProfiling)
        {
            profiled = SessionSampled;
            rate = profiled ? 1.0 : 0.0;
            return true;
        }
        return false;
    }

    /// <summary>Whether a sampled transaction (or a manual profile) gets a v1 profile.</summary>
    public bool DecideProfile(SamplingContext sampling) => Rolls(ProfileRate(sampling));

    /// <summary><c>profiles_sampler</c>'s rate, else <c>profiles_sample_rate</c>.</summary>
    private double? ProfileRate(SamplingContext sampling) =>
        Options.ProfilesSampler is { } sampler ? Ask("profiles_sampler", sampler, sampling) : Options.ProfilesSampleRate;

    private bool Rolls(double? rate) => rate is > 0 && Roll() < rate.Value;

    /// <summary>Whether this process's continuous profiling session is sampled: rolled once, then kept.</summary>
    public bool SessionSampled
    {
        get
        {
            lock (_random)
            {
                if (_session.Sampled is null)
                {
                    _session.Sampled = _random.NextDouble() < (Options.ProfileSessionSampleRate ?? 0);
                    log?.Invoke(_session.Sampled.Value ? "this profiling session is sampled" : "this profiling session is not sampled");
                }
                return _session.Sampled.Value;
            }
        }
    }

    /// <summary>The continuous session's decision, if it was made.</summary>
    public bool? SessionDecision { get { lock (_random) return _session.Sampled; } }

    /// <summary>A session that continues another (a forked child) keeps that session's decision.</summary>
    public void InheritSessionDecision(bool sampled)
    {
        lock (_random) _session.Sampled = sampled;
    }

    /// <summary>The rate a sampler returned; null (logged) when it failed or returned no rate from 0 to 1.</summary>
    private double? Ask(string name, Func<SamplingContext, double?> sampler, SamplingContext sampling)
    {
        double? rate;
        try
        {
            rate = sampler(sampling);
        }
        catch (Exception e) when (e is not CallbackAbortedException)
        {
            log?.Invoke($"{name} failed ({e.Message}); not sampled");
            return null;
        }
        if (rate is null or < 0 or > 1 || double.IsNaN(rate.Value))
        {
            log?.Invoke($"{name} returned {rate?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "undef"}, not a number from 0 to 1; not sampled");
            return null;
        }
        return rate;
    }

    private double Roll()
    {
        lock (_random) return _random.NextDouble();
    }
}
