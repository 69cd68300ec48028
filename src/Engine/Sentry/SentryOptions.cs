using Newtonsoft.Json.Linq;

namespace PerlSentry.Engine.Sentry;

/// <summary>
/// The SDK's options, named as Perl spells them in <c>Sentry::SDK-&gt;init</c>. Defaults are documented
/// per property; <see cref="OptionsReader"/> is the one place that reads environment variables and
/// validates values. Immutable: a change is a new instance (<c>with</c>), validated again.
/// </summary>
public sealed record SentryOptions
{
    /// <summary><c>dsn</c>: where events go. Null: nothing goes to Sentry (the folder and Spotlight sinks may still get it).</summary>
    public Dsn? Dsn { get; init; }

    public string? Release { get; init; }

    /// <summary><c>environment</c>, default <c>production</c> (as the CPAN SDK).</summary>
    public string Environment { get; init; } = "production";

    public string? Dist { get; init; }

    /// <summary><c>server_name</c>, default the host name.</summary>
    public string? ServerName { get; init; } = System.Environment.MachineName;

    /// <summary><c>debug</c>: log what the SDK does and drops to stderr.</summary>
    public bool Debug { get; init; }

    /// <summary><c>sample_rate</c> for errors, 0..1, default 1.</summary>
    public double SampleRate { get; init; } = 1.0;

    /// <summary><c>traces_sample_rate</c>; null with no <see cref="TracesSampler"/> means tracing is off.</summary>
    public double? TracesSampleRate { get; init; }

    public Func<SamplingContext, double?>? TracesSampler { get; init; }

    public Func<JObject, JObject?>? BeforeSend { get; init; }

    public Func<JObject, JObject?>? BeforeSendTransaction { get; init; }

    /// <summary><c>max_breadcrumbs</c>, default 100; the oldest go first.</summary>
    public int MaxBreadcrumbs { get; init; } = 100;

    public IReadOnlyList<string> InAppInclude { get; init; } = [];

    public IReadOnlyList<string> InAppExclude { get; init; } = [];

    /// <summary><c>enable_profiling</c>: the seed's master switch for profiling.</summary>
    public bool EnableProfiling { get; init; }

    /// <summary><c>profiles_sample_rate</c>: share of sampled transactions that are profiled (v1 profiles).</summary>
    public double? ProfilesSampleRate { get; init; }

    public Func<SamplingContext, double?>? ProfilesSampler { get; init; }

    /// <summary><c>profile_session_sample_rate</c>: continuous profiling (v2 chunks), decided once per process.</summary>
    public double? ProfileSessionSampleRate { get; init; }

    /// <summary><c>profile_lifecycle</c>, default <c>trace</c> (the seed's default).</summary>
    public ProfileLifecycle ProfileLifecycle { get; init; } = ProfileLifecycle.Trace;

    /// <summary><c>sampling_interval_us</c>, default 9901 (101 Hz, off the 100 Hz grid of periodic work).</summary>
    public int SamplingIntervalUs { get; init; } = 1_000_000 / 101;

    /// <summary><c>max_profile_duration</c> in seconds, default and maximum 30 (Relay drops longer transaction profiles).</summary>
    public double MaxProfileDuration { get; init; } = 30;

    /// <summary><c>max_stack_depth</c>, default 100; the innermost frames are kept.</summary>
    public int MaxStackDepth { get; init; } = 100;

    /// <summary><c>spotlight</c>: the sidecar's URL, or null. <c>spotlight =&gt; 1</c> means <see cref="DefaultSpotlightUrl"/>.</summary>
    public Uri? Spotlight { get; init; }

    public static readonly Uri DefaultSpotlightUrl = new("http://localhost:8969/stream");

    /// <summary><c>shutdown_timeout</c> in seconds, default 2: how long exit waits for the queue.</summary>
    public double ShutdownTimeout { get; init; } = 2;

    /// <summary>
    /// <c>cache_dir</c>: envelopes are written here before they are sent, so an outage, a 5xx or a
    /// kill loses nothing. Default <c>$XDG_CACHE_HOME/perl-sentry</c> (or <c>~/.cache/perl-sentry</c>); empty turns it off.
    /// </summary>
    public string? CacheDir { get; init; }

    /// <summary>
    /// <c>max_cache_items</c>, default 10000 envelopes waiting in the journal; beyond it the oldest is
    /// dropped (<c>cache_overflow</c>). Sized so a burst of 10,000 captures to a healthy Sentry loses none.
    /// </summary>
    public int MaxCacheItems { get; init; } = 10_000;

    /// <summary><c>max_queue_items</c> in memory (no cache, or a cache that cannot be written), default 10000 (<c>queue_overflow</c> beyond).</summary>
    public int MaxQueueItems { get; init; } = 10_000;

    /// <summary><c>envelope_dir</c>: also write every envelope as a file here (what <c>perl-sentry profile</c> uses).</summary>
    public string? EnvelopeDir { get; init; }

    /// <summary><c>include_source_context</c>, default on: error frames carry the source lines around them.</summary>
    public bool IncludeSourceContext { get; init; } = true;

    /// <summary><c>send_client_reports</c>, default on.</summary>
    public bool SendClientReports { get; init; } = true;

    /// <summary><c>http_timeout</c> per request in seconds, default 10.</summary>
    public double HttpTimeout { get; init; } = 10;

    /// <summary><c>max_spans</c> per transaction, default 1000 (as sentry-python).</summary>
    public int MaxSpans { get; init; } = 1000;

    /// <summary>Whether transactions are sampled at all (a rate or a sampler is set).</summary>
    public bool TracingEnabled => TracesSampleRate is not null || TracesSampler is not null;

    /// <summary>
    /// Transaction profiling (v1) is on when profiling is enabled and a profiles rate or sampler is
    /// set; it wins over continuous profiling, as Sentry's docs say (spec §4 "Mixing the two").
    /// </summary>
    public bool TransactionProfiling => EnableProfiling && (ProfilesSampleRate is not null || ProfilesSampler is not null);

    public bool ContinuousProfiling => EnableProfiling && !TransactionProfiling && ProfileSessionSampleRate is not null;
}
