using Newtonsoft.Json;

namespace PerlSentry.Engine.Profiling.Export;

/// <summary>
/// speedscope's file format (https://www.speedscope.app/file-format-schema.json): one sampled
/// profile per thread, stacks root first, each sample weighted by the wall time it stands for.
/// </summary>
public static class SpeedscopeExporter
{
    public static string Export(ProfileSnapshot p, string name)
    {
        using var sw = new StringWriter(System.Globalization.CultureInfo.InvariantCulture);
        using (var w = new JsonTextWriter(sw))
        {
            var tickMs = p.Interval.TotalMilliseconds;
            w.WriteStartObject();
            w.WritePropertyName("$schema");
            w.WriteValue("https://www.speedscope.app/file-format-schema.json");
            w.WritePropertyName("name");
            w.WriteValue(name);
            w.WritePropertyName("exporter");
            w.WriteValue("perl-sentry");
            w.WritePropertyName("activeProfileIndex");
            w.WriteValue(0);
            w.WritePropertyName("shared");
            w.WriteStartObject();
            w.WritePropertyName("frames");
            w.WriteStartArray();
            foreach (var f in p.Frames)
            {
                w.WriteStartObject();
                w.WritePropertyName("name");
                w.WriteValue(f.Function);
                w.WritePropertyName("file");
                w.WriteValue(f.FileName);
                w.WritePropertyName("line");
                w.WriteValue(f.Line);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
            w.WritePropertyName("profiles");
            w.WriteStartArray();
            foreach (var thread in p.Samples.Select(s => s.ThreadId).Distinct().Order())
            {
                var samples = p.Samples.Where(s => s.ThreadId == thread).ToList();
                var total = samples.Sum(s => s.Weight * tickMs);
                w.WriteStartObject();
                w.WritePropertyName("type");
                w.WriteValue("sampled");
                w.WritePropertyName("name");
                w.WriteValue(p.Threads.TryGetValue(thread, out var tn) ? $"{tn} ({thread})" : thread.ToString(System.Globalization.CultureInfo.InvariantCulture));
                w.WritePropertyName("unit");
                w.WriteValue("milliseconds");
                w.WritePropertyName("startValue");
                w.WriteValue(0);
                w.WritePropertyName("endValue");
                w.WriteValue(Math.Round(total, 3));
                w.WritePropertyName("samples");
                w.WriteStartArray();
                foreach (var s in samples)
                {
                    w.WriteStartArray();
                    foreach (var i in p.Stacks[s.StackId].Reverse())
                        w.WriteValue(i);
                    w.WriteEndArray();
                }
                w.WriteEndArray();
                w.WritePropertyName("weights");
                w.WriteStartArray();
                foreach (var s in samples)
                    w.WriteValue(Math.Round(s.Weight * tickMs, 3));
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return sw.ToString();
    }
}
