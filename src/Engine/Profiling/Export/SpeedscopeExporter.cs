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
            // One speedscope frame per function and file, so Sandwich and Left Heavy see a sub once,
            // not once per line it ran; its line is the lowest sampled (nearest the sub's start).
            var index = new Dictionary<(string, string), int>();
            var frameOf = new int[p.Frames.Count];
            var shown = new List<(string Function, string File, int Line)>();
            for (var i = 0; i < p.Frames.Count; i++)
            {
                var f = p.Frames[i];
                if (!index.TryGetValue((f.Function, f.FileName), out var k))
                {
                    index[(f.Function, f.FileName)] = k = shown.Count;
                    shown.Add((f.Function, f.FileName, f.Line));
                }
                else if (f.Line > 0 && (shown[k].Line <= 0 || f.Line < shown[k].Line))
                    shown[k] = shown[k] with { Line = f.Line };
                frameOf[i] = k;
            }
            w.WritePropertyName("frames");
            w.WriteStartArray();
            foreach (var (function, file, line) in shown)
            {
                w.WriteStartObject();
                w.WritePropertyName("name");
                w.WriteValue(function);
                w.WritePropertyName("file");
                w.WriteValue(file);
                if (line > 0)
                {
                    w.WritePropertyName("line");
                    w.WriteValue(line);
                }
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
                        w.WriteValue(frameOf[i]);
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
