using System.Globalization;
using Newtonsoft.Json;

namespace PerlSentry.Engine.Profiling.Export;

/// <summary>
/// The <c>profile</c> object both Sentry formats share: frames, stacks (leaf first), samples and
/// thread_metadata. Only the frames and stacks the given samples use are written, re-indexed.
/// </summary>
internal static class SentryProfileWriter
{
    public static void Prop(JsonWriter w, string name, string value)
    {
        w.WritePropertyName(name);
        w.WriteValue(value);
    }

    /// <summary>
    /// One sample per sampler tick, in time order: a sample that stands for N ticks (the program sat in
    /// a blocking call or an op with no safe point) becomes N samples at its ticks' times (it is stamped
    /// at the first), so tools that count samples weigh that time right. A marker (weight 0) is one
    /// sample: a short profile's start and end. Ticks after
    /// <paramref name="untilNs"/> are left out.
    /// </summary>
    public static List<ProfileSample> PerTick(IEnumerable<ProfileSample> samples, TimeSpan interval, long untilNs = long.MaxValue)
    {
        var step = Math.Max(1L, (long)interval.TotalNanoseconds);
        var ticks = new List<ProfileSample>();
        foreach (var s in samples)
        {
            ticks.Add(s.Weight == 1 ? s : s with { Weight = 1 });
            for (var k = 1; k < s.Weight; k++)
            {
                var t = s.TimestampNs + k * step;
                if (t > untilNs)
                    break;
                ticks.Add(s with { TimestampNs = t, Weight = 1 });
            }
        }
        return [.. ticks.OrderBy(s => s.TimestampNs)];   // stable: samples of one instant keep their order
    }

    /// <summary>
    /// Each frame's JSON, written once per frame object: a store's frames (and their in_app versions,
    /// <see cref="InAppRules.Decide"/>) are the same objects from profile to profile, and most of a
    /// small profile's text is its frames.
    /// </summary>
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<ProfileFrame, string> FrameJson = [];

    private static string WriteFrame(ProfileFrame f)
    {
        using var sw = new StringWriter(CultureInfo.InvariantCulture);
        using (var w = new JsonTextWriter(sw))
        {
            w.WriteStartObject();
            w.WritePropertyName("function"); w.WriteValue(f.Function);
            if (f.Module.Length > 0) { w.WritePropertyName("module"); w.WriteValue(f.Module); }
            w.WritePropertyName("filename"); w.WriteValue(f.FileName);
            if (f.AbsPath is not null) { w.WritePropertyName("abs_path"); w.WriteValue(f.AbsPath); }
            w.WritePropertyName("lineno"); w.WriteValue(Math.Max(0, f.Line));
            w.WritePropertyName("in_app"); w.WriteValue(f.InApp);
            w.WriteEndObject();
        }
        return sw.ToString();
    }

    public static void WriteProfileBody(JsonWriter w, ProfileSnapshot p, IReadOnlyList<ProfileSample> samples,
        Action<JsonWriter, ProfileSample> writeTime)
    {
        var stackMap = new Dictionary<int, int>();
        var frameMap = new Dictionary<int, int>();
        var stacks = new List<int[]>();
        var frames = new List<ProfileFrame>();
        foreach (var s in samples)
        {
            if (stackMap.ContainsKey(s.StackId))
                continue;
            var ids = p.Stacks[s.StackId].Select(f =>
            {
                if (!frameMap.TryGetValue(f, out var k))
                {
                    k = frames.Count;
                    frames.Add(p.Frames[f]);
                    frameMap[f] = k;
                }
                return k;
            }).ToArray();
            stackMap[s.StackId] = stacks.Count;
            stacks.Add(ids);
        }
        w.WriteStartObject();
        w.WritePropertyName("frames");
        w.WriteStartArray();
        foreach (var f in frames)
            w.WriteRawValue(FrameJson.GetValue(f, WriteFrame));
        w.WriteEndArray();
        w.WritePropertyName("stacks");
        w.WriteStartArray();
        foreach (var st in stacks)
        {
            w.WriteStartArray();
            foreach (var i in st) w.WriteValue(i);
            w.WriteEndArray();
        }
        w.WriteEndArray();
        w.WritePropertyName("samples");
        w.WriteStartArray();
        foreach (var s in samples)
        {
            w.WriteStartObject();
            w.WritePropertyName("stack_id"); w.WriteValue(stackMap[s.StackId]);
            w.WritePropertyName("thread_id"); w.WriteValue(s.ThreadId.ToString(CultureInfo.InvariantCulture));
            writeTime(w, s);
            w.WriteEndObject();
        }
        w.WriteEndArray();
        w.WritePropertyName("thread_metadata");
        w.WriteStartObject();
        foreach (var t in samples.Select(s => s.ThreadId).Distinct().Order())
        {
            w.WritePropertyName(t.ToString(CultureInfo.InvariantCulture));
            w.WriteStartObject();
            w.WritePropertyName("name"); w.WriteValue(p.Threads.TryGetValue(t, out var n) ? n : "perl");
            w.WriteEndObject();
        }
        w.WriteEndObject();
        w.WriteEndObject();
    }
}
