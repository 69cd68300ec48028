using System.Reflection;
using Newtonsoft.Json;

namespace PerlSentry.Engine.Profiling.Export;

/// <summary>
/// A self-contained HTML flame graph: one file, no network, zoom by click, regex search.
/// Frames merge by function along each path (root at the bottom); widths are sampler ticks.
/// </summary>
public static class FlameGraphExporter
{
    private sealed class Node(string name)
    {
        public string Name { get; } = name;
        public long Value;
        public long Self;
        public bool InApp = true;
        public string? File;
        public int FileIndex = -1;
        public Dictionary<int, long> Lines { get; } = [];   // the lines it ran here, by ticks
        public Dictionary<string, Node> Children { get; } = new(StringComparer.Ordinal);
    }

    /// <summary>The flame graph; frames link to <c>lines.html</c> (<see cref="LinesExporter"/>) when <paramref name="linesFile"/> is given.</summary>
    public static string Export(ProfileSnapshot p, string title, string? linesFile = "lines.html")
    {
        var files = LineStats.Files(p).Select((f, i) => (f, i)).ToDictionary(x => x.f, x => x.i, StringComparer.Ordinal);
        var root = new Node("all");
        foreach (var s in p.Samples)
        {
            var node = root;
            node.Value += s.Weight;
            var stack = p.Stacks[s.StackId];
            for (var k = stack.Length - 1; k >= 0; k--)
            {
                var f = p.Frames[stack[k]];
                if (!node.Children.TryGetValue(f.Function, out var child))
                {
                    child = new Node(f.Function) { InApp = f.InApp, File = f.FileName, FileIndex = files.GetValueOrDefault(f.FileName, -1) };
                    node.Children[f.Function] = child;
                }
                child.Value += s.Weight;
                if (f.Line > 0 && f.FileName == child.File)
                    child.Lines[f.Line] = child.Lines.GetValueOrDefault(f.Line) + s.Weight;
                node = child;
            }
            node.Self += s.Weight;
        }
        using var sw = new StringWriter(System.Globalization.CultureInfo.InvariantCulture);
        using (var w = new JsonTextWriter(sw))
        {
            w.WriteStartObject();
            w.WritePropertyName("samples");
            w.WriteValue(p.Samples.Count);
            w.WritePropertyName("ticks");
            w.WriteValue(root.Value);
            w.WritePropertyName("intervalMs");
            w.WriteValue(p.Interval.TotalMilliseconds);
            if (linesFile is not null)
            {
                w.WritePropertyName("lines");
                w.WriteValue(linesFile);
            }
            w.WritePropertyName("root");
            Write(w, root);
            w.WriteEndObject();
        }
        // "</" must not end the inline script early.
        var json = sw.ToString().Replace("</", "<\\/", StringComparison.Ordinal);
        return Template().Replace("__TITLE__", System.Net.WebUtility.HtmlEncode(title), StringComparison.Ordinal)
            .Replace("/*DATA*/", json, StringComparison.Ordinal);
    }

    private static void Write(JsonTextWriter w, Node n)
    {
        w.WriteStartObject();
        w.WritePropertyName("n"); w.WriteValue(n.Name);
        w.WritePropertyName("v"); w.WriteValue(n.Value);
        w.WritePropertyName("s"); w.WriteValue(n.Self);
        if (!n.InApp) { w.WritePropertyName("a"); w.WriteValue(0); }
        if (n.File is not null) { w.WritePropertyName("l"); w.WriteValue(n.File); }
        if (n.FileIndex >= 0) { w.WritePropertyName("fi"); w.WriteValue(n.FileIndex); }
        if (n.Lines.Count > 0)
        {
            // its lines, hottest first: [line, ticks] pairs (the tooltip shows the first few)
            w.WritePropertyName("ln");
            w.WriteStartArray();
            foreach (var (line, ticks) in n.Lines.OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key).Take(12))
            {
                w.WriteStartArray();
                w.WriteValue(line);
                w.WriteValue(ticks);
                w.WriteEndArray();
            }
            w.WriteEndArray();
        }
        if (n.Children.Count > 0)
        {
            w.WritePropertyName("c");
            w.WriteStartArray();
            foreach (var c in n.Children.Values.OrderByDescending(c => c.Value).ThenBy(c => c.Name, StringComparer.Ordinal))
                Write(w, c);
            w.WriteEndArray();
        }
        w.WriteEndObject();
    }

    private static string Template()
    {
        using var s = Assembly.GetExecutingAssembly().GetManifestResourceStream("flamegraph.html")
            ?? throw new InvalidOperationException("flamegraph.html is not embedded");
        using var r = new StreamReader(s);
        return r.ReadToEnd();
    }
}
