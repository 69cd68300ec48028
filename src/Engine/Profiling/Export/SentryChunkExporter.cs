using System.Globalization;
using Newtonsoft.Json;
using PerlSentry.Engine.Sentry;

namespace PerlSentry.Engine.Profiling.Export;

/// <summary>
/// Continuous-profiling chunks, sample format v2 (spec/sentry-profiles.md §3): a new chunk every
/// 60 s of samples (Relay refuses more than 66 s), each with a fresh chunk_id and the session's
/// profiler_id; timestamps are Unix seconds as numbers, thread ids strings.
/// </summary>
public static class SentryChunkExporter
{
    public static readonly TimeSpan ChunkLength = TimeSpan.FromSeconds(60);

    public sealed record Context(string ProfilerId, SdkInfo Sdk, string? Release = null, string? Environment = null);

    public static IReadOnlyList<string> Export(ProfileSnapshot p, Context ctx)
    {
        var chunks = new List<string>();
        var samples = SentryProfileWriter.PerTick(p.Samples, p.Interval);   // one per tick, in time order
        var i = 0;
        while (i < samples.Count)
        {
            var start = samples[i].TimestampNs;
            var j = i;
            while (j < samples.Count && samples[j].TimestampNs - start < (long)ChunkLength.TotalNanoseconds)
                j++;
            chunks.Add(Chunk(p, samples.GetRange(i, j - i), ctx));
            i = j;
        }
        return chunks;
    }

    private static string Chunk(ProfileSnapshot p, List<ProfileSample> samples, Context ctx)
    {
        using var sw = new StringWriter(CultureInfo.InvariantCulture);
        using (var w = new JsonTextWriter(sw))
        {
            w.WriteStartObject();
            SentryProfileWriter.Prop(w, "version", "2");
            SentryProfileWriter.Prop(w, "chunk_id", Guid.NewGuid().ToString("N"));
            SentryProfileWriter.Prop(w, "profiler_id", ctx.ProfilerId);
            SentryProfileWriter.Prop(w, "platform", "perl");
            if (ctx.Release is not null) SentryProfileWriter.Prop(w, "release", ctx.Release);
            if (ctx.Environment is not null) SentryProfileWriter.Prop(w, "environment", ctx.Environment);
            w.WritePropertyName("client_sdk");
            w.WriteStartObject();
            SentryProfileWriter.Prop(w, "name", ctx.Sdk.Name);
            SentryProfileWriter.Prop(w, "version", ctx.Sdk.Version);
            w.WriteEndObject();
            w.WritePropertyName("profile");
            SentryProfileWriter.WriteProfileBody(w, p, samples, (writer, s) =>
            {
                writer.WritePropertyName("timestamp");
                writer.WriteRawValue((s.TimestampNs / 1e9).ToString("F6", CultureInfo.InvariantCulture));
            });
            w.WriteEndObject();
        }
        return sw.ToString();
    }
}
