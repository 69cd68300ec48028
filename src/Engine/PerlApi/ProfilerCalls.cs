using PerlSentry.Engine.Profiling.Sessions;
using PerlSentry.Engine.Sentry;
using PerlSentry.PerlBridge;
using static PerlSentry.Engine.PerlApi.PerlValues;

namespace PerlSentry.Engine.PerlApi;

/// <summary>
/// <c>Sentry::Profiling</c> and <c>Sentry::Profiling::Profile</c>: the SDK's profiler (controller id 0)
/// or a standalone one made with <c>Sentry::Profiling-&gt;new(...)</c>, and the profiles they return.
/// </summary>
internal static class ProfilerCalls
{
    private static readonly string[] ProfilingOptions =
    [
        "enable_profiling", "profiles_sample_rate", "profile_session_sample_rate", "profile_lifecycle",
        "sampling_interval_us", "max_profile_duration", "max_stack_depth",
    ];

    public static object? Call(SentryBinding b, string method, object?[] a)
    {
        object? A(int i) => i < a.Length ? a[i] : null;
        switch (method)
        {
            case "new": return b.Handles.Add(Standalone(b, Hash(A(0))));
            case "info": return Info(b.Handles.Get<ProfileHandle>(A(0), "profile"));
            case "payload":
                var p = b.Handles.Get<ProfileHandle>(A(0), "profile");
                return b.Profiling.Preview(p);
        }
        var c = Number(A(0)) is null or 0 ? b.Profiling : b.Handles.Get<ProfilingController>(A(0), "profiler");
        switch (method)
        {
            case "start":
                if (b.Refuse("start_profiler"))
                    return new object?[] { null, "called from inside an SDK callback" };
                var opts = Hash(A(1));
                var h = c.StartManual(Text(opts.GetValueOrDefault("name")) ?? "manual-profile", out var whyNot);
                if (h is null)
                {
                    b.Log("start_profiler: " + whyNot);
                    return new object?[] { null, whyNot };
                }
                return new object?[] { b.Handles.Add(h), null };
            case "stop": return c.StopManual() is { } stopped ? b.Handles.Add(stopped) : null;
            case "active": return c.Active is { } active ? b.Handles.Add(active) : null;
            case "get": return Get(c, Text(A(1)));
            case "set":
                Set(c, Text(A(1)) ?? "", A(2));
                return Get(c, Text(A(1)));
            default: throw new PerlException($"Sentry::Profiling has no method '{method}'\n");
        }
    }

    private static ProfilingController Standalone(SentryBinding b, IReadOnlyDictionary<string, object?> attrs)
    {
        var known = attrs.Where(kv => ProfilingOptions.Contains(kv.Key)).ToDictionary(kv => kv.Key, kv => kv.Value);
        known.TryAdd("enable_profiling", 0L);
        SentryOptions options;
        try
        {
            options = OptionsReader.Read(known, _ => null);
        }
        catch (SentryOptionsException e)
        {
            throw new PerlException("Sentry::Profiling->new: " + e.Message + "\n");
        }
        options.Release = b.Hub.Options.Release;
        options.Environment = b.Hub.Options.Environment;
        options.Dsn = b.Hub.Options.Dsn;
        // Its profiles go out through the SDK's transport, as the seed's _send_profile does.
        var hub = new Hub(options, b.Hub.Client.Transport, b.Hub.Clock, null, b.Hub.Client.Reports)
        {
            ThreadId = b.Hub.ThreadId,
            ThreadName = b.Hub.ThreadName,
        };
        return b.NewProfiling(hub);
    }

    private static object? Get(ProfilingController c, string? option)
    {
        var o = c.Options;
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
            "profiler_id" => c.ProfilerId,
            _ => throw new PerlException($"Sentry::Profiling has no attribute '{option}'\n"),
        };
    }

    private static void Set(ProfilingController c, string option, object? value)
    {
        if (!ProfilingOptions.Contains(option))
            throw new PerlException($"Sentry::Profiling has no settable attribute '{option}'\n");
        try
        {
            OptionsReader.Apply(c.Options, option, value);
        }
        catch (SentryOptionsException e)
        {
            throw new PerlException(e.Message + "\n");
        }
        if (option == "enable_profiling" && c.Options.EnableProfiling
            && c.Options.ProfilesSampleRate is null && c.Options.ProfilesSampler is null && c.Options.ProfileSessionSampleRate is null)
            c.Options.ProfilesSampleRate = 0.01;
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
