using PerlSentry.Engine.Profiling.Sessions;
using PerlSentry.Engine.Sentry;
using static PerlSentry.Engine.Session.SessionValues;

namespace PerlSentry.Engine.Session;

/// <summary>
/// <c>Sentry::Profiling</c> and <c>Sentry::Profiling::Profile</c>: the SDK's profiler (id 0) or a
/// standalone one made with <c>Sentry::Profiling-&gt;new(...)</c>, and the profiles they return.
/// </summary>
internal static class ProfilerCalls
{
    private static readonly string[] Attributes =
    [
        "enable_profiling", "profiles_sample_rate", "profile_session_sample_rate", "profile_lifecycle",
        "sampling_interval_us", "max_profile_duration", "max_stack_depth",
    ];

    public static object? Call(EngineSession s, string method, object?[] a)
    {
        object? A(int i) => i < a.Length ? a[i] : null;
        switch (method)
        {
            case "new":
                s.Handles.Put(A(0), s.NewStandaloneProfiler(Standalone(Hash(A(1)))));
                return null;
            case "info": return Info(s.Handles.Get<ProfileHandle>(A(0), "profile"));
            case "payload":
                var h = s.Handles.Get<ProfileHandle>(A(0), "profile");
                return (Profiler(s, A(1)) ?? s.Profiling).Preview(h);
        }
        var p = Profiler(s, A(0)) ?? throw new SessionCallException($"profiler handle {A(0)} is not valid");
        switch (method)
        {
            case "start":
                if (s.Refuse("start_profiler"))
                    return new object?[] { null, "called from inside an SDK callback" };
                var started = p.StartManual(Text(Hash(A(2)).GetValueOrDefault("name")) ?? "manual-profile", out var whyNot);
                if (started is null)
                {
                    s.Log("start_profiler: " + whyNot);
                    return new object?[] { null, whyNot };
                }
                s.Handles.Put(A(1), started);
                return new object?[] { A(1), null };
            case "stop": return p.StopManual(Text(A(1))) is { } stopped ? s.Handles.IdOf(stopped) : null;
            case "active": return p.Active is { } active ? s.Handles.IdOf(active) : null;
            case "get": return Get(p, Text(A(1)));
            case "set":
                Set(p, Text(A(1)) ?? "", A(2));
                return Get(p, Text(A(1)));
            default: throw new SessionCallException($"Sentry::Profiling has no method '{method}'");
        }
    }

    /// <summary>Id 0 (or none) is the SDK's profiler; others were made by <c>new</c>.</summary>
    private static HubProfiler? Profiler(EngineSession s, object? id) =>
        Number(id) is null or 0 ? s.Profiling : s.Handles.Find<HubProfiler>(id);

    private static SentryOptions Standalone(IReadOnlyDictionary<string, object?> attrs)
    {
        var known = attrs.Where(kv => Attributes.Contains(kv.Key)).ToDictionary(kv => kv.Key, kv => kv.Value);
        known.TryAdd("enable_profiling", 0L);
        try
        {
            return OptionsReader.Read(known, _ => null) with { CacheDir = "" };
        }
        catch (SentryOptionsException e)
        {
            throw new SessionCallException("Sentry::Profiling->new: " + e.Message);
        }
    }

    private static object? Get(HubProfiler p, string? option)
    {
        var o = p.Options;
        return option switch
        {
            "enable_profiling" => o.EnableProfiling ? 1L : 0L,
            "profiles_sample_rate" => o.ProfilesSampleRate,
            "profile_session_sample_rate" => o.ProfileSessionSampleRate,
            "profile_lifecycle" => o.ProfileLifecycle == ProfileLifecycle.Trace ? "trace" : "manual",
            "sampling_interval_us" => (long)o.SamplingIntervalUs,
            "max_profile_duration" => o.MaxProfileDuration,
            "max_stack_depth" => (long)o.MaxStackDepth,
            "mode" => o.TransactionProfiling ? "transaction" : o.ContinuousProfiling ? "continuous" : "off",
            "profiler_id" => p.ProfilerId,
            _ => throw new SessionCallException($"Sentry::Profiling has no attribute '{option}'"),
        };
    }

    /// <summary>A new value for one attribute: validated as at init, applied as new settings.</summary>
    private static void Set(HubProfiler p, string option, object? value)
    {
        if (!Attributes.Contains(option))
            throw new SessionCallException($"Sentry::Profiling has no settable attribute '{option}'");
        SentryOptions options;
        try
        {
            options = OptionsReader.Apply(p.Options, option, value);
        }
        catch (SentryOptionsException e)
        {
            throw new SessionCallException(e.Message);
        }
        if (option == "enable_profiling" && options.EnableProfiling
            && options.ProfilesSampleRate is null && options.ProfilesSampler is null && options.ProfileSessionSampleRate is null)
            options = options with { ProfilesSampleRate = 0.01 };
        try
        {
            p.Reconfigure(options);
        }
        catch (InvalidOperationException e)
        {
            throw new SessionCallException(e.Message);
        }
    }

    private static Dictionary<string, object?> Info(ProfileHandle h) => new()
    {
        ["name"] = h.Name,
        ["kind"] = h.Kind == ProfileKind.Transaction ? "transaction" : "continuous",
        ["id"] = h.Id,
        ["start_time"] = Timestamps.ToEpochSeconds(h.StartNs),
        ["end_time"] = h.EndNs is { } e ? Timestamps.ToEpochSeconds(e) : null,
        ["transaction_id"] = h.TransactionId,
        ["trace_id"] = h.TraceId,
        ["drop_reason"] = h.DropReason,
        ["sent"] = h.Payload is not null ? 1L : 0L,
    };
}
