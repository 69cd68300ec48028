using System.Globalization;
using Newtonsoft.Json;
using PerlSentry.Engine.Sentry;

namespace PerlSentry.Engine.Profiling.Export;

/// <summary>
/// A transaction profile, sample format v1 (spec/sentry-profiles.md §2): anchored at the
/// transaction's start (<c>timestamp</c>, RFC 3339), samples as u64 ns offsets in decimal strings,
/// cut at 30 s, linked to the transaction by its event id and trace id.
/// </summary>
public static class SentryProfileV1Exporter
{
    public static readonly TimeSpan MaxDuration = TimeSpan.FromSeconds(30);

    public sealed record Context(
        string ProfileId,
        string TransactionId,
        string TraceId,
        string TransactionName,
        long StartNs,
        long EndNs,
        long ActiveThreadId,
        HostInfo Host,
        string? Release = null,
        string? Environment = null);

    /// <summary>
    /// The samples a profile of this transaction keeps, one per sampler tick (<see cref="SentryProfileWriter.PerTick"/>):
    /// inside it, and no later than 30 s after its start.
    /// </summary>
    public static IReadOnlyList<ProfileSample> SamplesOf(ProfileSnapshot p, Context ctx)
    {
        var end = Math.Min(ctx.EndNs, ctx.StartNs + (long)MaxDuration.TotalNanoseconds);
        return SentryProfileWriter.PerTick(p.Samples.Where(s => s.TimestampNs >= ctx.StartNs && s.TimestampNs <= end), p.Interval, end);
    }

    /// <summary>The payload, or null when fewer than 2 samples remain (the caller reports insufficient_data).</summary>
    public static string? Export(ProfileSnapshot p, Context ctx)
    {
        var samples = SamplesOf(p, ctx);
        return samples.Count < 2 ? null : Export(p, ctx, samples);
    }

    /// <summary>The payload with the samples <see cref="SamplesOf"/> gave (at least 2).</summary>
    public static string Export(ProfileSnapshot p, Context ctx, IReadOnlyList<ProfileSample> samples)
    {
        var duration = Math.Min(ctx.EndNs, ctx.StartNs + (long)MaxDuration.TotalNanoseconds) - ctx.StartNs;
        using var sw = new StringWriter(CultureInfo.InvariantCulture);
        using (var w = new JsonTextWriter(sw))
        {
            w.WriteStartObject();
            SentryProfileWriter.Prop(w, "version", "1");
            SentryProfileWriter.Prop(w, "event_id", ctx.ProfileId);
            SentryProfileWriter.Prop(w, "platform", "perl");
            SentryProfileWriter.Prop(w, "timestamp", Timestamps.ToRfc3339(ctx.StartNs));
            if (ctx.Release is not null) SentryProfileWriter.Prop(w, "release", ctx.Release);
            if (ctx.Environment is not null) SentryProfileWriter.Prop(w, "environment", ctx.Environment);
            w.WritePropertyName("device");
            w.WriteStartObject();
            SentryProfileWriter.Prop(w, "architecture", ctx.Host.Architecture);
            w.WriteEndObject();
            w.WritePropertyName("os");
            w.WriteStartObject();
            SentryProfileWriter.Prop(w, "name", ctx.Host.OsName);
            SentryProfileWriter.Prop(w, "version", ctx.Host.OsVersion);
            w.WriteEndObject();
            w.WritePropertyName("runtime");
            w.WriteStartObject();
            SentryProfileWriter.Prop(w, "name", "perl");
            SentryProfileWriter.Prop(w, "version", ctx.Host.PerlVersion);
            w.WriteEndObject();
            w.WritePropertyName("transaction");
            w.WriteStartObject();
            SentryProfileWriter.Prop(w, "id", ctx.TransactionId);
            SentryProfileWriter.Prop(w, "name", ctx.TransactionName);
            SentryProfileWriter.Prop(w, "trace_id", ctx.TraceId);
            SentryProfileWriter.Prop(w, "active_thread_id", ctx.ActiveThreadId.ToString(CultureInfo.InvariantCulture));
            SentryProfileWriter.Prop(w, "relative_start_ns", "0");
            SentryProfileWriter.Prop(w, "relative_end_ns", duration.ToString(CultureInfo.InvariantCulture));
            w.WriteEndObject();
            w.WritePropertyName("profile");
            SentryProfileWriter.WriteProfileBody(w, p, samples, (writer, s) =>
            {
                writer.WritePropertyName("elapsed_since_start_ns");
                writer.WriteValue((s.TimestampNs - ctx.StartNs).ToString(CultureInfo.InvariantCulture));
            });
            w.WriteEndObject();
        }
        return sw.ToString();
    }
}
