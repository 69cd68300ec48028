using System.Globalization;
using Newtonsoft.Json.Linq;

namespace PerlSentry.Engine.Sentry;

/// <summary>
/// Builds <see cref="SentryOptions"/> from the hash given to <c>init</c> and the environment: an
/// explicit option wins over its environment variable, which wins over the default. Bad values
/// throw <see cref="SentryOptionsException"/> naming the option and what is allowed. Callbacks
/// arrive already adapted to delegates by the front end (a Perl code ref, a C# lambda).
/// </summary>
public static class OptionsReader
{
    /// <summary>The environment fallbacks, option → variable.</summary>
    public static readonly IReadOnlyDictionary<string, string> EnvironmentFallbacks = new Dictionary<string, string>
    {
        ["dsn"] = "SENTRY_DSN",
        ["release"] = "SENTRY_RELEASE",
        ["environment"] = "SENTRY_ENVIRONMENT",
        ["traces_sample_rate"] = "SENTRY_TRACES_SAMPLE_RATE",
        ["debug"] = "SENTRY_DEBUG",
        ["spotlight"] = "SENTRY_SPOTLIGHT",
        ["envelope_dir"] = "PERLSENTRY_ENVELOPE_DIR",
    };

    /// <summary>Options of the CPAN Sentry::SDK that are accepted and have no effect here.</summary>
    private static readonly HashSet<string> Ignored = ["integrations", "default_integrations", "max_value_length", "_metadata", "attach_stacktrace"];

    public static SentryOptions Read(IReadOnlyDictionary<string, object?> given, Func<string, string?> env, Action<string>? warn = null)
    {
        var values = new Dictionary<string, object?>(given.Where(kv => kv.Value is not null), StringComparer.Ordinal);
        foreach (var (option, variable) in EnvironmentFallbacks)
        {
            if (!values.ContainsKey(option) && env(variable) is { Length: > 0 } v)
                values[option] = v;
        }
        var o = new SentryOptions();
        foreach (var (key, value) in values)
        {
            if (TryApply(o, key, value) is { } applied)
                o = applied;
            else if (!Ignored.Contains(key))
                warn?.Invoke($"Sentry::SDK->init: unknown option '{key}' ignored");
        }
        // Profiling is on when a profiling rate is given, unless enable_profiling says otherwise;
        // enable_profiling alone profiles 1% of transactions (the seed plan's default rate).
        var anyRate = o.ProfilesSampleRate is not null || o.ProfilesSampler is not null || o.ProfileSessionSampleRate is not null;
        if (!values.ContainsKey("enable_profiling"))
            o = o with { EnableProfiling = anyRate };
        else if (o.EnableProfiling && !anyRate)
            o = o with { ProfilesSampleRate = 0.01 };
        return o with { CacheDir = o.CacheDir ?? DefaultCacheDir(env) };
    }

    /// <summary>The options with one more set from its Perl spelling. Throws on a bad value or an unknown name.</summary>
    public static SentryOptions Apply(SentryOptions o, string key, object? value) =>
        TryApply(o, key, value) ?? throw new SentryOptionsException(key, $"unknown option '{key}'");

    /// <summary>The options with one more set from its Perl spelling; null when the name is unknown. Throws on a bad value.</summary>
    public static SentryOptions? TryApply(SentryOptions o, string key, object? value) => key switch
    {
        "dsn" => o with { Dsn = ParseDsn(key, value) },
        "release" => o with { Release = Text(key, value) },
        "environment" => o with { Environment = NonEmpty(key, value) },
        "dist" => o with { Dist = Text(key, value) },
        "server_name" => o with { ServerName = Text(key, value) },
        "debug" => o with { Debug = Truthy(value) },
        "sample_rate" => o with { SampleRate = Rate(key, value) },
        "traces_sample_rate" => o with { TracesSampleRate = Rate(key, value) },
        "traces_sampler" => o with { TracesSampler = Code<Func<SamplingContext, double?>>(key, value) },
        "before_send" => o with { BeforeSend = Code<Func<JObject, JObject?>>(key, value) },
        "before_send_transaction" => o with { BeforeSendTransaction = Code<Func<JObject, JObject?>>(key, value) },
        "max_breadcrumbs" => o with { MaxBreadcrumbs = (int)Number(key, value, 0, 1000, "an integer from 0 to 1000") },
        "in_app_include" => o with { InAppInclude = Strings(key, value) },
        "in_app_exclude" => o with { InAppExclude = Strings(key, value) },
        "enable_profiling" => o with { EnableProfiling = Truthy(value) },
        "profiles_sample_rate" => o with { ProfilesSampleRate = Rate(key, value) },
        "profiles_sampler" => o with { ProfilesSampler = Code<Func<SamplingContext, double?>>(key, value) },
        "profile_session_sample_rate" => o with { ProfileSessionSampleRate = Rate(key, value) },
        "profile_lifecycle" => o with { ProfileLifecycle = Lifecycle(key, value) },
        "sampling_interval_us" => o with { SamplingIntervalUs = (int)Number(key, value, 100, 10_000_000, "microseconds from 100 (10 kHz) to 10000000 (10 s)") },
        "max_profile_duration" => o with { MaxProfileDuration = Number(key, value, 0.01, 30, "seconds, more than 0 and at most 30 (Relay drops longer transaction profiles)") },
        "max_stack_depth" => o with { MaxStackDepth = (int)Number(key, value, 1, 10_000, "an integer from 1 to 10000") },
        "spotlight" => o with { Spotlight = Spotlight(key, value) },
        "shutdown_timeout" => o with { ShutdownTimeout = Number(key, value, 0, 3600, "seconds from 0 to 3600") },
        "cache_dir" => o with { CacheDir = Text(key, value) },
        "max_cache_items" => o with { MaxCacheItems = (int)Number(key, value, 1, 100_000, "an integer from 1 to 100000") },
        "max_queue_items" => o with { MaxQueueItems = (int)Number(key, value, 1, 100_000, "an integer from 1 to 100000") },
        "envelope_dir" => o with { EnvelopeDir = Text(key, value) },
        "send_client_reports" => o with { SendClientReports = Truthy(value) },
        "include_source_context" => o with { IncludeSourceContext = Truthy(value) },
        "http_timeout" => o with { HttpTimeout = Number(key, value, 0.1, 600, "seconds from 0.1 to 600") },
        "max_spans" => o with { MaxSpans = (int)Number(key, value, 0, 100_000, "an integer from 0 to 100000") },
        _ => null,
    };

    private static Dsn? ParseDsn(string key, object? value)
    {
        var dsn = Text(key, value);
        try
        {
            return dsn.Length == 0 ? null : Dsn.Parse(dsn);
        }
        catch (FormatException e)
        {
            throw new SentryOptionsException(key, $"option 'dsn': {e.Message}");
        }
    }

    public static string DefaultCacheDir(Func<string, string?> env)
    {
        var xdg = env("XDG_CACHE_HOME");
        var home = env("HOME");
        var root = !string.IsNullOrEmpty(xdg) ? xdg
            : !string.IsNullOrEmpty(home) ? Path.Combine(home, ".cache")
            : Path.GetTempPath();
        return Path.Combine(root, "perl-sentry");
    }

    private static string Text(string key, object? v) => v switch
    {
        string s => s,
        long or double or int => Convert.ToString(v, CultureInfo.InvariantCulture)!,
        _ => throw new SentryOptionsException(key, $"option '{key}' must be a string, got {Describe(v)}"),
    };

    private static string NonEmpty(string key, object? v)
    {
        var s = Text(key, v);
        return s.Length > 0 ? s : throw new SentryOptionsException(key, $"option '{key}' must not be empty");
    }

    private static bool Truthy(object? v) => v switch
    {
        null => false,
        bool b => b,
        long l => l != 0,
        double d => d != 0,
        string s => s is not ("" or "0") && !s.Equals("false", StringComparison.OrdinalIgnoreCase) && !s.Equals("no", StringComparison.OrdinalIgnoreCase),
        _ => true,
    };

    private static double Number(string key, object? v, double min, double max, string allowed)
    {
        double d;
        switch (v)
        {
            case long l: d = l; break;
            case int i: d = i; break;
            case double x: d = x; break;
            case string s when double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var parsed): d = parsed; break;
            default: throw new SentryOptionsException(key, $"option '{key}' must be {allowed}, got {Describe(v)}");
        }
        if (double.IsNaN(d) || d < min || d > max)
            throw new SentryOptionsException(key, $"option '{key}' must be {allowed}, got {Describe(v)}");
        return d;
    }

    private static double Rate(string key, object? v) => Number(key, v, 0, 1, "a number from 0 to 1");

    private static T Code<T>(string key, object? v) where T : Delegate =>
        v as T ?? throw new SentryOptionsException(key, $"option '{key}' must be a code reference (sub {{ ... }}), got {Describe(v)}");

    private static IReadOnlyList<string> Strings(string key, object? v) => v switch
    {
        string s => [s],
        IEnumerable<object?> list => list.Select(x => x is string s ? s : throw new SentryOptionsException(key,
            $"option '{key}' must be a list of package or path prefixes, got an element {Describe(x)}")).ToList(),
        _ => throw new SentryOptionsException(key, $"option '{key}' must be a list of package or path prefixes ([ 'My::App', ... ]), got {Describe(v)}"),
    };

    private static ProfileLifecycle Lifecycle(string key, object? v) => v switch
    {
        "trace" => ProfileLifecycle.Trace,
        "manual" => ProfileLifecycle.Manual,
        _ => throw new SentryOptionsException(key, $"option '{key}' must be 'trace' or 'manual', got {Describe(v)}"),
    };

    private static Uri? Spotlight(string key, object? v)
    {
        if (v is bool b)
            return b ? SentryOptions.DefaultSpotlightUrl : null;
        var s = Text(key, v);
        if (s is "" or "0" || s.Equals("false", StringComparison.OrdinalIgnoreCase))
            return null;
        if (s is "1" || s.Equals("true", StringComparison.OrdinalIgnoreCase))
            return SentryOptions.DefaultSpotlightUrl;
        return Uri.TryCreate(s, UriKind.Absolute, out var u) && u.Scheme is "http" or "https"
            ? u
            : throw new SentryOptionsException(key, $"option '{key}' must be 1 or the sidecar's URL (http://localhost:8969/stream), got {Describe(v)}");
    }

    private static string Describe(object? v) => v switch
    {
        null => "undef",
        string s => $"'{s}'",
        long or double or int => Convert.ToString(v, CultureInfo.InvariantCulture)!,
        Delegate => "a code reference",
        IEnumerable<object?> => "an array reference",
        IDictionary<string, object?> => "a hash reference",
        _ => v.ToString() ?? v.GetType().Name,
    };
}
